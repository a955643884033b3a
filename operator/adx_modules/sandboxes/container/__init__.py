"""The container backend: a locked-down pod and its companions, by server-side apply."""
