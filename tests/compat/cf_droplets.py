"""Drives the droplet server with the `cloudfoundry-client` package (PyPI), a CF client nobody on
this project wrote: log in through the UAA the root document names, then create, get, list (with
filters and pagination), update, upload, copy and delete droplets.

Run by tests/end_to_end/compat.rs with DROPLET_API_URL, UAA_USER, UAA_PASSWORD and DROPLET_TGZ.
Exits non-zero, with the failed assertion, on any difference from what CF tooling expects."""

import os
import time
import uuid

from cloudfoundry_client.client import CloudFoundryClient
from cloudfoundry_client.errors import InvalidStatusCode

api = os.environ["DROPLET_API_URL"]
client = CloudFoundryClient(api, client_id="cf", client_secret="", verify=False)
client.init_with_user_credentials(os.environ["UAA_USER"], os.environ["UAA_PASSWORD"])
droplets = client.v3.droplets


def wait_for_state(guid, wanted, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        state = droplets.get(guid)["state"]
        if state == wanted:
            return
        assert time.monotonic() < deadline, f"droplet {guid} is {state}, not {wanted}"
        time.sleep(0.2)


# Create and get.
app = str(uuid.uuid4())
created = droplets.create(app, process_types={"web": "bin/run"}, meta_labels={"team": "bits"})
assert created["state"] == "AWAITING_UPLOAD", created
assert created["relationships"]["app"]["data"]["guid"] == app
assert created["metadata"]["labels"] == {"team": "bits"}
fetched = droplets.get(created["guid"])
assert fetched["guid"] == created["guid"]
assert fetched["process_types"] == {"web": "bin/run"}

# Upload the bits the way the client's own upload helper sends files, and follow the job.
with open(os.environ["DROPLET_TGZ"], "rb") as bits:
    response = client.post(
        f"{api}/v3/droplets/{created['guid']}/upload",
        files={"bits": ("droplet.tgz", bits)},
    )
assert response.status_code == 202, response.status_code
job_guid = response.headers["Location"].rsplit("/", 1)[-1]
job = client.v3.jobs.wait_for_job_completion(job_guid, timeout=60)
assert job["state"] == "COMPLETE", job
wait_for_state(created["guid"], "STAGED")
staged = droplets.get(created["guid"])
assert staged["checksum"]["type"] == "sha256"

# List with filters and pagination: four droplets of this app, two per page.
others = [droplets.create(app, meta_labels={"team": "other"}) for _ in range(3)]
listed = list(droplets.list(app_guids=[app], per_page=2))
assert len(listed) == 4, [d["guid"] for d in listed]
assert {d["guid"] for d in listed} == {created["guid"]} | {d["guid"] for d in others}
labelled = list(droplets.list(app_guids=[app], label_selector="team=bits"))
assert [d["guid"] for d in labelled] == [created["guid"]], labelled
staged_only = list(droplets.list(app_guids=[app], states=["STAGED"]))
assert [d["guid"] for d in staged_only] == [created["guid"]], staged_only

# Update labels and annotations.
updated = droplets.update(created["guid"], meta_labels={"team": "core"}, meta_annotations={"note": "hi"})
assert updated["metadata"]["labels"] == {"team": "core"}, updated
assert updated["metadata"]["annotations"] == {"note": "hi"}, updated

# Copy into another app: COPYING, then the source's state and checksum.
target_app = str(uuid.uuid4())
copy = droplets.copy(created["guid"], target_app)
assert copy["relationships"]["app"]["data"]["guid"] == target_app
wait_for_state(copy["guid"], "STAGED")
assert droplets.get(copy["guid"])["checksum"] == staged["checksum"]

# Delete, wait for the job, and the droplet is gone.
for guid in [copy["guid"]] + [d["guid"] for d in others]:
    job_guid = droplets.remove(guid)
    assert client.v3.jobs.wait_for_job_completion(job_guid, timeout=60)["state"] == "COMPLETE"
    try:
        droplets.get(guid)
        raise AssertionError(f"droplet {guid} still exists after its delete job")
    except InvalidStatusCode as error:
        assert error.status_code == 404, error

print("cloudfoundry-client drove create, get, upload, list, update, copy and delete")
