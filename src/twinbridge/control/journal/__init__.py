"""The request journal (twinbridge's own, no upstream counterpart): the last requests and their answers, so a
test can assert what its client sent."""
