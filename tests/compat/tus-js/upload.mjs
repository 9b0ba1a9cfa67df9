// Uploads a droplet with tus-js-client (npm), a tus 1.0.0 client nobody here wrote, run in
// Node: creation, then PATCHes of 256 KiB from the offset the server reports.
//
// Run by tests/end_to_end/resumable/clients.rs with DROPLET_UPLOADS_URL (the droplet's
// `/v3/droplets/{guid}/uploads`), DROPLET_TOKEN and DROPLET_TGZ set. Prints the upload's URL
// and the last answer's Job-Location; exits non-zero on any error.

import { readFileSync } from 'node:fs';
import * as tus from 'tus-js-client';

const bits = readFileSync(process.env.DROPLET_TGZ);
let jobLocation = null;
const upload = new tus.Upload(bits, {
  endpoint: process.env.DROPLET_UPLOADS_URL,
  headers: { Authorization: `bearer ${process.env.DROPLET_TOKEN}` },
  chunkSize: 256 * 1024,
  metadata: { filename: 'droplet.tgz' },
  retryDelays: [0, 500, 1000],
  onAfterResponse: (_request, response) => {
    jobLocation = response.getHeader('Job-Location') || jobLocation;
  },
  onError: (error) => {
    console.error(`tus-js-client failed: ${error}`);
    process.exit(1);
  },
  onSuccess: () => {
    console.log(upload.url);
    console.log(jobLocation);
  },
});
upload.start();
