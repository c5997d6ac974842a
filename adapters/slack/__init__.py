"""Slack: hot-lead alerts through an incoming webhook."""
