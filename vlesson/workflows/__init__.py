"""vlesson.workflows"""
