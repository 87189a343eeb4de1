"""What every served component (controller manager, scheduler) shares to talk to an API server
and to be observed: reflectors, the REST client, Lease leader election, the ``/metrics`` and
``/healthz`` server with its certificate, the client-side metric families and the start-up
sequence."""
