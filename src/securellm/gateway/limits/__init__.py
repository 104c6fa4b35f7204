"""Rate limits (GCRA token buckets, in-process or shared in Redis) and the admission policy."""
