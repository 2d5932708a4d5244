"""Real SIP callers and operator phones: SIPp (Debian's ``sip-tester``) with scenarios built here.

* :func:`caller_scenario` — a caller on the carrier trunk: INVITE 112 (P-Asserted-Identity,
  optional ``Privacy: id``, optional PIDF-LO location in a multipart body), ACK, optionally an
  RTP/DTMF recording, then hangs up after ``hold_ms`` unless Asterisk hangs up first.
* :func:`register_scenario` then :func:`phone_scenario` on the same port — an operator's
  softphone: registers with digest auth, then rings ``ring_ms`` and answers (or never answers),
  talks ``talk_ms`` and hangs up. ``-aa`` answers Asterisk's qualify OPTIONS.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from .lab import CARRIER_IP, LAB_IP

SIPP = shutil.which("sipp") or "/usr/bin/sipp"
DTMF_5 = Path("/usr/share/sip-tester/dtmf_2833_5.pcap")
VOICE = Path("/usr/share/sip-tester/g711a.pcap")

_HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n'

_SDP = """v=0
o=ngcc 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv"""

#: The PIDF-LO the l_geolocation transcript was recorded with (a device, a 50 m circle, GPS).
PIDF_LO = """<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gbp="urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy" xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0" xmlns:con="urn:ietf:params:xml:ns:geopriv:conf" entity="sip:caller1@127.0.0.2">
 <dm:device id="ngcc-dev-1">
  <gp:geopriv>
   <gp:location-info>
    <gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">
     <gml:pos>{lat} {lon}</gml:pos>
     <gs:radius uom="urn:ogc:def:uom:EPSG::9001">{radius}</gs:radius>
    </gs:Circle>
    <con:confidence pdf="normal">95</con:confidence>
   </gp:location-info>
   <gp:usage-rules>
    <gbp:retransmission-allowed>false</gbp:retransmission-allowed>
    <gbp:retention-expiry>2030-01-01T00:00:00Z</gbp:retention-expiry>
   </gp:usage-rules>
   <gp:method>GPS</gp:method>
  </gp:geopriv>
  <dm:deviceID>mac:00112233445a</dm:deviceID>
 </dm:device>
</presence>"""


def _cdata(text: str) -> str:
    return "<![CDATA[\n" + text + "\n]]>"


@dataclass(frozen=True)
class Caller:
    """What one caller sends. ``number`` may hold ``[call_number]`` for one number per call."""

    number: str = "5550101"
    name: str | None = "Penelepon"
    exten: str = "112"
    #: ``Privacy: id``: the caller withheld the number.
    withheld: bool = False
    #: Hang up this long after the ACK (unless Asterisk hangs up first).
    hold_ms: int = 6000
    #: An RTP recording played this long after the ACK (DTMF 5, voice).
    pcap: Path | None = None
    pcap_after_ms: int = 1000
    #: A PIDF-LO location in the INVITE (lat, lon, radius in m).
    location: tuple[str, str, str] | None = None
    #: No number at all: no P-Asserted-Identity, a From without a user part.
    no_identity: bool = False


def caller_scenario(caller: Caller) -> str:
    display = f'"{caller.name}" ' if caller.name is not None else ""
    identity = f"{display}<sip:{caller.number}@[local_ip]>"
    headers = [] if caller.no_identity else [f"P-Asserted-Identity: {identity}"]
    if caller.withheld:
        headers.append("Privacy: id")
    body = _SDP
    content_type = "application/sdp"
    if caller.location is not None:
        lat, lon, radius = caller.location
        headers += ["Geolocation: <cid:ngcc-loc-1@caller1.ngcc.test>", "Geolocation-Routing: yes"]
        content_type = "multipart/mixed;boundary=ngccboundary"
        body = "\n".join([
            "--ngccboundary", "Content-Type: application/sdp", "", _SDP,
            "--ngccboundary", "Content-Type: application/pidf+xml", "Content-ID: <ngcc-loc-1@caller1.ngcc.test>",
            "", PIDF_LO.format(lat=lat, lon=lon, radius=radius), "--ngccboundary--"])
    from_uri = "sip:[local_ip]:[local_port]" if caller.no_identity else f"sip:{caller.number}@[local_ip]:[local_port]"
    invite = "\n".join([
        f"INVITE sip:{caller.exten}@[remote_ip]:[remote_port] SIP/2.0",
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        f"From: {display}<{from_uri}>;tag=[pid]SIPpTag00[call_number]",
        f"To: <sip:{caller.exten}@[remote_ip]:[remote_port]>",
        "Call-ID: [call_id]",
        "CSeq: 1 INVITE",
        "Contact: <sip:carrier@[local_ip]:[local_port]>",
        "Max-Forwards: 70",
        *headers,
        f"Content-Type: {content_type}",
        "Content-Length: [len]",
        "",
        body,
    ])
    dialog = "\n".join([
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        f"From: {display}<{from_uri}>;tag=[pid]SIPpTag00[call_number]",
        f"To: <sip:{caller.exten}@[remote_ip]:[remote_port]>[peer_tag_param]",
        "Call-ID: [call_id]",
    ])
    parts = [_HEAD.format(name="ngcc112 caller"),
             f'<send retrans="500">{_cdata(invite)}</send>\n',
             '<recv response="100" optional="true"/>\n',
             '<recv response="180" optional="true"/>\n',
             '<recv response="183" optional="true"/>\n',
             '<recv response="200" rrs="true"/>\n',
             "<send>" + _cdata("\n".join([
                 "ACK [next_url] SIP/2.0", dialog, "CSeq: 1 ACK", "Max-Forwards: 70",
                 "Content-Length: 0", ""])) + "</send>\n"]
    waited = 0
    if caller.pcap is not None:
        parts.append(f'<recv request="BYE" timeout="{caller.pcap_after_ms}" ontimeout="play"/>\n')
        parts.append('<send next="end">' + _bye_ok() + "</send>\n")
        parts.append('<label id="play"/>\n')
        parts.append(f'<nop><action><exec play_pcap_audio="{escape(str(caller.pcap))}"/></action></nop>\n')
        waited = caller.pcap_after_ms
    parts.append(f'<recv request="BYE" timeout="{max(caller.hold_ms - waited, 1)}" ontimeout="hangup"/>\n')
    parts.append('<send next="end">' + _bye_ok() + "</send>\n")
    parts.append('<label id="hangup"/>\n')
    parts.append('<send retrans="500">' + _cdata("\n".join([
        "BYE [next_url] SIP/2.0", dialog, "CSeq: 2 BYE", "Max-Forwards: 70", "Content-Length: 0", ""]))
        + "</send>\n")
    parts.append('<recv response="200" crlf="true"/>\n')
    parts.append('<label id="end"/>\n')
    parts.append("</scenario>\n")
    return "".join(parts)


def _bye_ok() -> str:
    return _cdata("\n".join([
        "SIP/2.0 200 OK", "[last_Via:]", "[last_From:]", "[last_To:]", "[last_Call-ID:]", "[last_CSeq:]",
        "Content-Length: 0", ""]))


def register_scenario(user: str, password: str, expires: int = 3600) -> str:
    def register(cseq: int, auth: bool) -> str:
        return _cdata("\n".join([
            "REGISTER sip:[remote_ip]:[remote_port] SIP/2.0",
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
            f"From: <sip:{user}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]",
            f"To: <sip:{user}@[remote_ip]>",
            "Call-ID: [call_id]",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{user}@[local_ip]:[local_port]>",
            "Max-Forwards: 70",
            f"Expires: {expires}",
            *([f"[authentication username={user} password={password}]"] if auth else []),
            "Content-Length: 0",
            "",
        ]))

    return "".join([
        _HEAD.format(name=f"register {user}"),
        f'<send retrans="500">{register(1, False)}</send>\n',
        '<recv response="401" auth="true"/>\n',
        f'<send retrans="500">{register(2, True)}</send>\n',
        '<recv response="200"/>\n',
        # stay a moment: the first qualify OPTIONS comes right after the registration (-aa answers it)
        '<pause milliseconds="1500"/>\n' if expires else "",
        "</scenario>\n",
    ])


def phone_scenario(ring_ms: int = 500, talk_ms: int = 4000, answers: bool = True) -> str:
    """One incoming call at a time per SIPp call: ring, answer (or not), talk, hang up."""
    tag = ";tag=[pid]SIPpTag01[call_number]"
    ringing = _cdata("\n".join([
        "SIP/2.0 180 Ringing", "[last_Via:]", "[last_From:]", f"[last_To:]{tag}", "[last_Call-ID:]",
        "[last_CSeq:]", "Contact: <sip:[local_ip]:[local_port]>", "Content-Length: 0", ""]))
    ok = _cdata("\n".join([
        "SIP/2.0 200 OK", "[last_Via:]", "[last_From:]", f"[last_To:]{tag}", "[last_Call-ID:]",
        "[last_CSeq:]", "Contact: <sip:[local_ip]:[local_port]>", "Content-Type: application/sdp",
        "Content-Length: [len]", "", _SDP]))
    cancel_ok = _cdata("\n".join([
        "SIP/2.0 200 OK", "[last_Via:]", "[last_From:]", f"[last_To:]{tag}", "[last_Call-ID:]",
        "[last_CSeq:]", "Content-Length: 0", ""]))
    terminated = _cdata("\n".join([
        "SIP/2.0 487 Request Terminated", "[last_Via:]", "[last_From:]", f"[last_To:]{tag}",
        "[last_Call-ID:]", "CSeq: [last_cseq_number] INVITE", "Content-Length: 0", ""]))
    bye = _cdata("\n".join([
        "BYE [$remote_contact] SIP/2.0",
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        f"From: [$local_party]{tag}",
        "To: [$remote_party]",
        "Call-ID: [call_id]",
        "CSeq: 1 BYE",
        "Max-Forwards: 70",
        "Content-Length: 0",
        ""]))
    ring_wait = ring_ms if answers else 3_600_000
    return "".join([
        _HEAD.format(name="ngcc112 operator phone"),
        '<recv request="INVITE" crlf="true">\n<action>\n'
        '<ereg regexp="[^ ].*" search_in="hdr" header="From:" check_it="true" assign_to="remote_party"/>\n'
        '<ereg regexp="[^ ].*" search_in="hdr" header="To:" check_it="true" assign_to="local_party"/>\n'
        '<ereg regexp="sip:[^&gt;]*" search_in="hdr" header="Contact:" check_it="true" assign_to="remote_contact"/>\n'
        "</action>\n</recv>\n",
        f"<send>{ringing}</send>\n",
        f'<recv request="CANCEL" timeout="{ring_wait}" ontimeout="answer"/>\n',
        f"<send>{cancel_ok}</send>\n",
        f"<send>{terminated}</send>\n",
        '<recv request="ACK" next="end"/>\n',
        '<label id="answer"/>\n',
        f'<send retrans="500">{ok}</send>\n',
        '<recv request="ACK" crlf="true"/>\n',
        f'<recv request="BYE" timeout="{talk_ms}" ontimeout="hangup"/>\n',
        f'<send next="end">{cancel_ok}</send>\n',
        '<label id="hangup"/>\n',
        f'<send retrans="500">{bye}</send>\n',
        '<recv response="200" crlf="true"/>\n',
        '<label id="end"/>\n',
        "</scenario>\n",
    ])


class Sipp:
    """One SIPp process with a scenario written into ``folder``."""

    def __init__(self, folder: Path, name: str, scenario: str, args: list[str], *, local_ip: str,
                 port: int | None = None) -> None:
        self.folder = folder
        self.name = name
        self.local_ip = local_ip
        sip_port, self.media_port = sipp_ports(local_ip)
        self.port = port or sip_port
        folder.mkdir(parents=True, exist_ok=True)
        self.scenario_path = folder / f"{name}.xml"
        self.scenario_path.write_text(scenario, encoding="utf-8")
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        trace = ["-trace_msg", "-message_file", str(self.folder / f"{self.name}.msg")] \
            if os.environ.get("NGCC112_SIPP_TRACE") else []
        return [SIPP, "-sf", str(self.scenario_path), "-i", self.local_ip, "-p", str(self.port),
                "-mi", self.local_ip, "-mp", str(self.media_port), "-nostdin", "-aa",
                "-trace_err", "-error_file", str(self.folder / f"{self.name}.err"),
                *trace, *self.args]

    def start(self) -> Sipp:
        out = open(self.folder / f"{self.name}.out", "ab")
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, cwd=self.folder, start_new_session=True)
        return self

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"SIPp {self.name} still running after {timeout} s; see {self.folder}") from None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def errors(self) -> str:
        path = self.folder / f"{self.name}.err"
        return path.read_text(errors="replace") if path.exists() else ""


#: SIPp's own ports come from a block nobody else allocates from: above Asterisk's default
#: RTP range (5000-31000, the shipped config sets none) and below the kernel's ephemeral
#: ports (32768+), where a port probed free can be taken again before SIPp binds it (SIPp
#: then exits 254, "cannot bind", and a caller is lost to the test, not to the code).
SIPP_PORTS = range(31004, 32764)
_next_sipp_port = itertools.cycle(range(SIPP_PORTS.start, SIPP_PORTS.stop, 4))


def _udp_free(host: str, ports: range) -> bool:
    sockets = []
    try:
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sockets.append(sock)
            sock.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        for sock in sockets:
            sock.close()


def sipp_ports(host: str) -> tuple[int, int]:
    """(SIP port, even media port) for one SIPp: media uses mp, mp+1 (RTCP) and mp+2, mp+3 (video)."""
    for _ in range(len(SIPP_PORTS) // 4):
        base = next(_next_sipp_port)
        if _udp_free(host, range(base, base + 4)):
            media = base
            for _ in range(len(SIPP_PORTS) // 4):
                sip = next(_next_sipp_port)
                if _udp_free(host, range(sip, sip + 1)):
                    return sip, media
    raise AssertionError(f"no free SIPp ports left in {SIPP_PORTS} on {host}")


class Sip:
    """The lab's SIP side: place callers, bring up operator phones."""

    def __init__(self, folder: Path, asterisk_port: int) -> None:
        self.folder = folder
        self.asterisk_port = asterisk_port
        self._count = 0
        self.phones: dict[str, Sipp] = {}
        self.passwords: dict[str, str] = {}
        self.running: list[Sipp] = []

    def _next(self, what: str) -> str:
        self._count += 1
        return f"{self._count:03d}-{what}"

    def call(self, caller: Caller, *, calls: int = 1, rate: float = 1.0, start: bool = True) -> Sipp:
        sipp = Sipp(self.folder, self._next("caller"), caller_scenario(caller),
                    [f"{LAB_IP}:{self.asterisk_port}", "-m", str(calls), "-r", str(rate), "-rp", "1000",
                     "-l", str(max(calls, 1)), "-timeout", "300s"],
                    local_ip=CARRIER_IP)
        self.running.append(sipp)
        return sipp.start() if start else sipp

    def phone(self, user: str, password: str, *, ring_ms: int = 500, talk_ms: int = 4000,
              answers: bool = True, timeout: float = 20.0) -> Sipp:
        """Register ``user`` from a port, then answer calls on that same port."""
        name = self._next(f"register-{user}")
        register = Sipp(self.folder, name, register_scenario(user, password),
                        [f"{LAB_IP}:{self.asterisk_port}", "-m", "1", "-timeout", f"{int(timeout)}s"],
                        local_ip=LAB_IP).start()
        rc = register.wait(timeout + 5)
        if rc != 0:
            raise AssertionError(f"{user} could not register (SIPp rc {rc}): {register.errors()}")
        phone = Sipp(self.folder, self._next(f"phone-{user}"),
                     phone_scenario(ring_ms=ring_ms, talk_ms=talk_ms, answers=answers),
                     [], local_ip=LAB_IP, port=register.port).start()
        self.phones[user] = phone
        self.passwords[user] = password
        self.running.append(phone)
        return phone

    def unregister(self, user: str) -> None:
        """Hang up the phone and remove its registration, as a softphone does when it quits."""
        phone = self.phones.pop(user)
        phone.kill()
        gone = Sipp(self.folder, self._next(f"unregister-{user}"),
                    register_scenario(user, self.passwords[user], expires=0),
                    [f"{LAB_IP}:{self.asterisk_port}", "-m", "1", "-timeout", "10s"],
                    local_ip=LAB_IP, port=phone.port).start()
        gone.wait(15)

    def stop(self) -> None:
        """Every caller hung up, every phone unregistered: the next test starts clean."""
        for user in list(self.phones):
            self.unregister(user)
        for sipp in self.running:
            sipp.kill()
        self.running.clear()
        self.phones.clear()


def wait_all(sipps: list[Sipp], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    return [s.wait(max(deadline - time.monotonic(), 1.0)) for s in sipps]
