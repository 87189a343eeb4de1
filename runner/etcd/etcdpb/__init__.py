"""etcd 3.4.23's v3 API protobuf and gRPC code, generated from the vendored .proto files (README.md)."""
