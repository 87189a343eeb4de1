"""The controllers' vocabulary: informer events, API calls and answers, the resources they watch."""
