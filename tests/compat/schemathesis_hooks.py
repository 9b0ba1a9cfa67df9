"""schemathesis hooks for the contract test (tests/end_to_end/contract.rs), loaded through
SCHEMATHESIS_HOOKS: a tus append's body is bytes of a media type of its own,
`application/offset+octet-stream`, which schemathesis is told to send as it sends
`application/octet-stream`."""

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
