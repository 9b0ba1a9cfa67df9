"""Uploads a droplet with tuspy (PyPI), a tus 1.0.0 client nobody here wrote, in chunks of
256 KiB: creation, then a PATCH per chunk from the offset the server reports.

Run by tests/end_to_end/resumable/clients.rs with DROPLET_UPLOADS_URL (the droplet's
`/v3/droplets/{guid}/uploads`), DROPLET_TOKEN and DROPLET_TGZ set. Prints the upload's URL;
exits non-zero on any error."""

import os

from tusclient import client

tus = client.TusClient(
    os.environ["DROPLET_UPLOADS_URL"],
    headers={"Authorization": "bearer " + os.environ["DROPLET_TOKEN"]},
)
uploader = tus.uploader(
    os.environ["DROPLET_TGZ"],
    chunk_size=256 * 1024,
    metadata={"filename": "droplet.tgz"},
    retries=3,
    retry_delay=1,
)
uploader.upload()
assert uploader.offset == os.path.getsize(os.environ["DROPLET_TGZ"]), uploader.offset
print(uploader.url)
