"""Group-chat channels: a department's WeCom (企业微信) group robot and DingTalk (钉钉) custom robot.

``platforms`` holds each platform's message format, DingTalk's 加签 and masking (pure functions);
``messages`` writes the markdown; ``sender`` POSTs with timeouts and backoff; ``service`` keeps the
per-department settings and the at-most-once deliveries the reminder and weekly-report jobs post.
"""
