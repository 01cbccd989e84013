"""Files people send: what they are (by content), their names, images and where the bytes live.

Plain functions with no database: ``names`` (the shown name and the storage
path), ``sniff`` (the type read from the bytes, libmagic), ``images`` (the
pixel budget, thumbnails, metadata stripped), ``storage`` (Django's storage
API: the file system or S3), ``ranges`` (HTTP ``Range``). The store
(:mod:`messaging.store.attachments`) and the views (:mod:`messaging.http.attachments`)
build on them.
"""
