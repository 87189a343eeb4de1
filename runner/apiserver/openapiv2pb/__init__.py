"""gnostic's OpenAPI v2 protobuf message, generated from the vendored .proto file (README.md)."""
