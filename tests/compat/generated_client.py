"""Drives the droplet server with a Python client generated from openapi.json by
openapi-python-client (PyPI), the way a team that does not use Rust would: create a droplet,
upload its bits through the generated multipart operation, follow the job, download the bits and
read a CF error; then upload another droplet through the generated resumable upload (tus)
operations, in two appends, asking the offset between them.

Run by tests/end_to_end/contract.rs with the generated package's parent on PYTHONPATH and
DROPLET_API_URL, DROPLET_TOKEN and DROPLET_TGZ set. Exits non-zero, with the failed assertion, on
any difference."""

import hashlib
import os
import time
import uuid

from droplet_bits_api_client import AuthenticatedClient
from droplet_bits_api_client.api.droplets import (
    droplet_create,
    droplet_download,
    droplet_get,
    droplet_upload,
)
from droplet_bits_api_client.api.jobs import job_get
from droplet_bits_api_client.api.resumable_uploads import (
    resumable_upload_append,
    resumable_upload_create,
    resumable_upload_head,
)
from droplet_bits_api_client.models import (
    Droplet,
    DropletCreate,
    DropletRelationships,
    DropletState,
    DropletUploadForm,
    CfErrorEnvelope,
    JobState,
    RelationshipData,
    ToOneRelationship,
)
from droplet_bits_api_client.types import File

client = AuthenticatedClient(
    base_url=os.environ["DROPLET_API_URL"],
    token=os.environ["DROPLET_TOKEN"],
    prefix="bearer",
    raise_on_unexpected_status=True,
)
bits = open(os.environ["DROPLET_TGZ"], "rb").read()

app = DropletRelationships(app=ToOneRelationship(data=RelationshipData(guid=uuid.uuid4())))
droplet = droplet_create.sync(client=client, body=DropletCreate(relationships=app))
assert isinstance(droplet, Droplet), droplet
assert droplet.state == DropletState.AWAITING_UPLOAD, droplet.state

form = DropletUploadForm(bits=File(payload=bits, file_name="droplet.tgz"))
accepted = droplet_upload.sync_detailed(str(droplet.guid), client=client, body=form)
assert accepted.status_code == 202, (accepted.status_code, accepted.content)
assert isinstance(accepted.parsed, Droplet), accepted.parsed
job_guid = accepted.headers["location"].rstrip("/").rsplit("/", 1)[-1]



def wait_for(job_guid):
    deadline = time.monotonic() + 60
    while True:
        job = job_get.sync(job_guid, client=client)
        if job.state in (JobState.COMPLETE, JobState.FAILED):
            return job
        assert time.monotonic() < deadline, f"job {job_guid} is still {job.state}"
        time.sleep(0.2)


job = wait_for(job_guid)
assert job.state == JobState.COMPLETE, job.errors

staged = droplet_get.sync(str(droplet.guid), client=client)
assert staged.state == DropletState.STAGED, staged.state
assert staged.checksum.value == hashlib.sha256(bits).hexdigest(), staged.checksum

downloaded = droplet_download.sync_detailed(str(droplet.guid), client=client)
assert downloaded.status_code == 200, downloaded.status_code
assert downloaded.content == bits, "the downloaded bits differ from the uploaded ones"

missing = droplet_get.sync(str(uuid.uuid4()), client=client)
assert isinstance(missing, CfErrorEnvelope), missing
assert missing.errors[0].code == 10010, missing.errors
assert missing.errors[0].title == "CF-ResourceNotFound", missing.errors
assert missing.errors[0].detail == "Droplet not found", missing.errors

resumable = droplet_create.sync(client=client, body=DropletCreate(relationships=app))
guid = str(resumable.guid)
created = resumable_upload_create.sync_detailed(
    guid, client=client, tus_resumable="1.0.0", upload_length=len(bits)
)
assert created.status_code == 201, (created.status_code, created.content)
upload_id = created.headers["location"].rstrip("/").rsplit("/", 1)[-1]
half = len(bits) // 2
first = resumable_upload_append.sync_detailed(
    guid, upload_id, client=client, body=File(payload=bits[:half]), tus_resumable="1.0.0",
    upload_offset=0,
)
assert first.status_code == 204, (first.status_code, first.content)
head = resumable_upload_head.sync_detailed(guid, upload_id, client=client, tus_resumable="1.0.0")
assert head.headers["upload-offset"] == str(half), head.headers
last = resumable_upload_append.sync_detailed(
    guid, upload_id, client=client, body=File(payload=bits[half:]), tus_resumable="1.0.0",
    upload_offset=half,
)
assert last.status_code == 204, (last.status_code, last.content)
job = wait_for(last.headers["job-location"].rstrip("/").rsplit("/", 1)[-1])
assert job.state == JobState.COMPLETE, job.errors
staged = droplet_get.sync(guid, client=client)
assert staged.checksum.value == hashlib.sha256(bits).hexdigest(), staged.checksum

print("generated client: create, upload (multipart and resumable), job, download and error all "
      "as documented")
