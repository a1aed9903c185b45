"""vlesson.lesson"""
