"""Ways a notification leaves the server besides the sockets: Web Push (``webpush``)."""
