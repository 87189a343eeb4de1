"""kube-apiserver: the store drivers, the HTTP server and `serve apiserver`."""
