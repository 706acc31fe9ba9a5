"""Recurrent Networks from Scratch: the library learners import."""
