"""The arcana shell: a fixed command language over a WebSocket, attached to one chat session.

- ``parser``: a line becomes a command name and its text, or an error (nothing is run);
- ``commands``: the one command table (what each command takes, its help, what it does);
- ``records``: shell sessions and every command line they received, as rows;
- ``socket``: the WebSocket route (token, attaching, limits, the read loop).

"Shell session" is a connection (a ``shell_sessions`` row); the "chat session" it is attached
to is the conversation its ``ask`` lines go to.
"""
