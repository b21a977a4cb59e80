"""Credit-risk model: will a personal loan default within its first year?"""

__version__ = "0.4.0"
