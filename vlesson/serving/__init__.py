"""vlesson.serving"""
