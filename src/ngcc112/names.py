"""The names Asterisk, the daemon and the simulator must agree on.

One place only: the shipped dialplan (``asterisk-config/``), the daemon's
settings defaults and the simulator's scenarios all read these, and a test
greps the shipped configuration and the docs against them.
"""

from __future__ import annotations

#: The operators' queue every emergency call joins.
OPERATOR_QUEUE = "ngcc112-operators"
#: Where unanswered calls overflow: the supervisors' queue (never voicemail).
SUPERVISOR_QUEUE = "ngcc112-supervisors"

#: Dialplan context incoming emergency calls arrive in, and its extension.
INCOMING_CONTEXT = "from-pstn"
EMERGENCY_EXTEN = "112"

#: The other Indonesian emergency numbers, routed into the same flow with the
#: incident category preset (NGCC_CATEGORY).
EMERGENCY_NUMBERS: dict[str, str] = {
    "112": "",
    "110": "crime",
    "113": "fire",
    "115": "disaster",
    "118": "medical",
    "119": "medical",
}

#: Dialplan context the operators' softphones live in.
OPERATOR_CONTEXT = "operators"

#: The silent-call prompt's digit: "press 5 if you cannot speak".
SILENT_DIGIT = "5"
#: How long the prompt waits for that digit, in seconds.
SILENT_PROMPT_SECONDS = 3

#: Channel variables the shipped dialplan sets and the daemon reads.
VAR_CALL_MARK = "NGCC_CALL"
VAR_ANSWERED_AT = "NGCC_ANSWERED_AT"
VAR_CID_PRES = "NGCC_CID_PRES"
VAR_CATEGORY = "NGCC_CATEGORY"
VAR_SILENT_DIGIT = "NGCC_SILENT_DIGIT"
VAR_SILENT_READSTATUS = "NGCC_SILENT_READSTATUS"
VAR_GEO_PREFIX = "NGCC_GEO_"
VAR_GEO_HEADER = "NGCC_GEO_HEADER"
VAR_GEO_LOCATION = "NGCC_GEO_LOCATION"
VAR_GEO_EFFECTIVE = "NGCC_GEO_EFFECTIVE"
VAR_GEO_CONFIDENCE = "NGCC_GEO_CONFIDENCE"
VAR_GEO_METHOD = "NGCC_GEO_METHOD"

#: The AMI account the shipped manager.conf creates for the daemon.
AMI_USERNAME = "ngcc"
AMI_PORT = 5038

#: Sample operator softphones shipped in pjsip.conf and used by the simulator.
SAMPLE_OPERATORS = ("op1", "op2", "op3")


def operator_interface(endpoint: str) -> str:
    """The queue member interface of an operator's PJSIP endpoint."""
    return f"PJSIP/{endpoint}"


#: The site of a single node, and of every ticket from before sites (``[cluster] site``).
DEFAULT_SITE = "main"
