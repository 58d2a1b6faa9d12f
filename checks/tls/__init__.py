"""The tls check family: one sslyze scan per TLS endpoint, judged by 28 pure checks.

``_collect.collect_tls`` does the network work (a probe connection, then one sslyze scan) in a worker
process; ``sslyze_adapter.facts_from_sslyze_json`` turns sslyze's JSON model into the typed ``TlsFacts``
of ``facts`` (certificates read by ``certificate_parser``, chains judged by ``trust_path``); the check
classes in ``protocols``, ``ciphers``, ``certificates`` and ``vulnerabilities`` judge those facts
through ``base.TlsCheck``, which owns the policy for endpoints that could not be scanned. It judges https:// and
http:// URLs and the mail services (SMTP, IMAP, POP3, with implicit TLS or STARTTLS) of mail platforms;
``starttls`` starts a STARTTLS session's plain-text part.
"""

from scanner.family import Family

FAMILY = Family(
    name="tls",
    version="1",
    package=__name__,
    endpoint_kinds=("url", "service"),
    title="TLS",
    typical_seconds=4.0,  # sslyze's handshakes
    description="TLS protocols, cipher suites, certificates and known flaws, from one sslyze scan per endpoint",
)
