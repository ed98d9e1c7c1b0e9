#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An HTTP proxy in front of an S3 server that does not check SigV4
signatures (s3rver): it recomputes each request's signature with botocore's
S3SigV4Auth (AWS's own signer) and the one secret it knows, checks
x-amz-content-sha256 against the body, and answers 403 with S3's error codes
(SignatureDoesNotMatch, InvalidAccessKeyId, XAmzContentSHA256Mismatch) on a
mismatch; matching requests are forwarded. Prints its port on stdout.
--refuse CODE:STATUS:N answers the first N well-signed requests with that S3
error instead (SlowDown:503:3, RequestTimeTooSkewed:403:1000...).
A PUT's Content-MD5, when sent, is checked against the body (BadDigest).
--put-log F appends one JSON line per well-signed PUT: its path, signed
headers, whether Content-MD5 matched, and its Object Lock headers.
--object-lock missing answers PUTs that ask for Object Lock retention as AWS
does for a bucket created without Object Lock (s3rver knows nothing of it);
--object-lock enabled refuses such PUTs without Content-MD5, as AWS does.
--delay FILE:PATTERNS:SECONDS holds every request whose path contains one of
the comma-separated PATTERNS for SECONDS while FILE exists (a slow S3).

    sigv4proxy.py --upstream 127.0.0.1:PORT --access-key AK --secret SK --log F [--refuse ...]
                  [--put-log F] [--object-lock missing|enabled] [--delay FILE:PATTERNS:S]
"""
import base64
import json
import argparse
import hashlib
import http.client
import http.server
import re
import os
import sys
import threading
import time

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request,"
                  r" ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "expect"}


def refusal(headers, body, args, method, path):
    m = AUTH.match(headers.get("Authorization", ""))
    if not m:
        return "AccessDenied", "no or malformed SigV4 Authorization header"
    ak, date, region, signed, sig = m.groups()
    if ak != args.access_key:
        return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist."
    if headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
        return "XAmzContentSHA256Mismatch", "x-amz-content-sha256 is not the body's SHA-256"
    amzdate = headers.get("x-amz-date", "")
    if amzdate[:8] != date:
        return "SignatureDoesNotMatch", "x-amz-date and the credential scope disagree"
    req = AWSRequest(method=method, url="http://%s%s" % (headers.get("host"), path), data=body)
    for h in signed.split(";"):
        if headers.get(h) is None:
            return "SignatureDoesNotMatch", "signed header %s missing" % h
        req.headers[h] = headers.get(h)
    req.context["timestamp"] = amzdate
    signer = S3SigV4Auth(Credentials(args.access_key, args.secret), "s3", region)
    want = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    if want != sig:
        return "SignatureDoesNotMatch", ("The request signature we calculated does not match "
                                         "the signature you provided.")
    if method == "PUT":
        md5 = headers.get("Content-MD5")
        md5_ok = md5 == base64.b64encode(hashlib.md5(body).digest()).decode()
        mode = headers.get("x-amz-object-lock-mode")
        until = headers.get("x-amz-object-lock-retain-until-date")
        if args.put_log:
            with args.lock, open(args.put_log, "a") as f:
                f.write(json.dumps({"path": path, "signed": signed.split(";"), "md5": md5,
                                    "md5_ok": md5_ok, "mode": mode, "until": until}) + "\n")
        if md5 is not None and not md5_ok:
            return "BadDigest", "The Content-MD5 you specified did not match what we received."
        if (mode or until) and args.object_lock == "missing":
            return "InvalidRequest", "Bucket is missing Object Lock Configuration"
        if (mode or until) and args.object_lock == "enabled" and md5 is None:
            return "InvalidRequest", ("Content-MD5 OR x-amz-checksum- HTTP header is required for "
                                      "Put Object requests with Object Lock parameters")
    with args.lock:
        if args.refuse_left > 0:
            args.refuse_left -= 1
            return args.refuse_code, "refused on purpose (--refuse)"
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def handle_any(self):
        args = self.server.args
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if len(body) < n:  # the client's connection dropped mid-body
            self.close_connection = True
            return
        if args.delay_file and os.path.exists(args.delay_file) and \
                any(x in self.path for x in args.delay_patterns):
            time.sleep(args.delay_s)
        bad = refusal(self.headers, body, args, self.command, self.path)
        if bad:
            with open(args.log, "a") as f:
                f.write("%s %s %s\n" % (bad[0], self.command, self.path))
            x = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                 "<Message>%s</Message></Error>" % bad).encode()
            status = 403
            if bad[1].endswith("(--refuse)"):
                status = args.refuse_status
            elif bad[0] in ("BadDigest", "InvalidRequest"):
                status = 400
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(x)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(x)
            return
        up = http.client.HTTPConnection(args.host, args.port, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        up.request(self.command, self.path, body=body if n or self.command == "PUT" else None,
                   headers=hdrs)
        r = up.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", r.getheader("Content-Length") or "0")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        up.close()

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--refuse", default="None:403:0")
    ap.add_argument("--put-log")
    ap.add_argument("--object-lock", choices=["none", "missing", "enabled"], default="none")
    ap.add_argument("--delay")
    args = ap.parse_args()
    args.delay_file = None
    if args.delay:
        f, pats, secs = args.delay.rsplit(":", 2)
        args.delay_file, args.delay_patterns, args.delay_s = f, pats.split(","), float(secs)
    code, status, count = args.refuse.split(":")
    args.refuse_code, args.refuse_status, args.refuse_left = code, int(status), int(count)
    args.lock = threading.Lock()
    args.host, port = args.upstream.rsplit(":", 1)
    args.port = int(port)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.args = args
    print(srv.server_address[1], flush=True)
    sys.stdout.close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
