"""A frontier shared by crawler processes on any number of hosts, in Redis (issue 13).

``-s FRONTIER_URL=redis://host:6379/0`` turns it on (addon.py): scrapy-redis's scheduler and
duplicate filter, extended so that

- processes started with the same command (spider and ``-a`` arguments) join one *run*
  (run.py): one queue, one duplicate filter, so each URL is fetched once per run in total;
- a popped request is *leased* to its process until the engine is done with it (its items
  stored); the leases of a process whose heartbeat stops are put back in the queue;
- a process closes only when the whole run is done (queue empty, no lease out, every member
  idle), and the last one clears the run's keys; the next run starts a new generation with a
  new duplicate filter, and carries over what a killed run left queued;
- per-site politeness holds across processes (slots.py): a per-host slot in Redis;
- the run's limits on new articles (``-a max_articles``, DISCOVER_MAX_PER_SOURCE) count every
  member's discoveries together (limits.py).
"""
