"""The wire contract between kiosk and centre: the only kiosk code the centre imports.

Stdlib, `cryptography` and `rfc8785` only; nothing else from `kiosk` (an import-linter
contract keeps it so). Modules:

- `canonical`: RFC 8785 JSON, UUIDv7 record ids, record timestamps
- `envelope`: record format v1, the signed envelope and its digest (the chain hash)
- `bodies` (`body_model`): a typed, strictly parsed model per record body
- `chain`: the one chain verifier (strict on the kiosk, gap-tolerant at the centre)
- `roster`: signed roster documents and the anti-rollback rule (`iin`: IIN validation)
- `requests`: signed device requests
- `keys`: public keys in base64 and key ids
- `errors`: `ProtocolError` and its subclasses
"""
