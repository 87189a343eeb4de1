"""The API server's vocabulary: served resources, requests and answers, storage commands."""
