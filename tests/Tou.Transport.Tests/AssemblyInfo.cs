// These tests use real sockets, process-wide counters (open endpoints, metrics) and measure memory and
// time figures: running them one class at a time keeps each free of the others' sockets and load.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
