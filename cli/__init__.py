"""The command line, `homeward COMMAND` (cli.main builds it); one module per thing a command drives.

It lives outside admin/ so the web app does not import the evaluation, the
embedded servers or the Telegram client, and the command line does not need Flask.
"""
