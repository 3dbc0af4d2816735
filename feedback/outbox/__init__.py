"""The outbox: messages written in the transaction of the change that caused them, and
delivered afterwards by any number of workers.

- `models`: the `outbox` and `slack_channel_pace` tables;
- `queries`: every SQL statement of the outbox;
- `messages`: the typed records (a claimed message, a rendered one, a digest);
- `enqueue`: routing a CTA's message and queueing it, and waking the deliverer;
- `render`: the one renderer of a message (the CTA as it is now, or the stored payload),
  through the message format a composition root installs (Slack's Block Kit, bot/blocks.py);
- `delivery`: claiming with a lease, per-channel pacing, backoff, sent/retry/dead
  bookkeeping, and the delivery loop; the transport (Slack's Web API, bot/transport.py)
  plugs in through the `Transport` protocol;
- `digests`: each CSM's daily digest;
- `admin`: what admins see and do (list, summary, retry).
"""
