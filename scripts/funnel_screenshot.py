#!/usr/bin/env python3
"""Renders docs/screenshots/office-funnel.png: the dashboard of a fresh demo
after payment links were sent by email and SMS, some opened and one paid.

Needs a built fieldpay (target/debug/fieldpay, or FIELDPAY_BIN) and chromium.
Standard library only."""

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.environ.get("FIELDPAY_BIN", os.path.join(root, "target/debug/fieldpay"))
work = tempfile.mkdtemp(prefix="fieldpay-funnel-")
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()
base = f"http://127.0.0.1:{port}"
env = dict(
    os.environ,
    FIELDPAY_DATABASE_URL=f"sqlite://{work}/fieldpay.db",
    FIELDPAY_BIND=f"127.0.0.1:{port}",
    FIELDPAY_BASE_URL=base,
    FIELDPAY_SPOOL_DIR=f"{work}/spool",
    FIELDPAY_LOG="warn",
)
out = open(f"{work}/demo.out", "w+")
server = subprocess.Popen([binary, "demo"], env=env, stdout=out, stderr=subprocess.DEVNULL)
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def call(method, path, body=None, headers=None, form=None):
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
        headers["origin"] = base
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with opener.open(req, timeout=30) as r:
        return r.read().decode()


try:
    for _ in range(120):
        out.seek(0)
        text = out.read()
        if "API key:" in text:
            try:
                call("GET", "/healthz")
                break
            except OSError:
                pass
        time.sleep(0.5)
    key = re.search(r"API key:\s+(\S+)", text).group(1)
    tokens = dict(re.findall(r"^\s+(\w+ \w+)\s+http\S+/pay/(\S+)$", text, re.M))
    auth = {"authorization": f"Bearer {key}"}
    customers = json.loads(call("GET", "/api/v1/customers", headers=auth))["data"]
    for c in customers:
        call("POST", f"/api/v1/customers/{c['id']}/send-link", {"channel": "email"}, auth)
        if c.get("phone"):
            call("POST", f"/api/v1/customers/{c['id']}/send-link", {"channel": "sms"}, auth)
    subprocess.run([binary, "jobs", "run", "--once"], env=env, check=True, stdout=subprocess.DEVNULL)
    # Two customers open their link; one of them pays what is due.
    for name in ("Lena Landlord", "Maria Homeowner"):
        call("GET", f"/pay/{tokens[name]}")
    token = tokens["Maria Homeowner"]
    page = json.loads(call("GET", f"/api/v1/pay/{token}"))
    invoices = [i["id"] for p in page["properties"] for i in p["invoices"]]
    year = time.gmtime().tm_year + 2
    card = json.loads(call("POST", "/sandbox/v1/tokens",
                           {"number": "4242424242424242", "exp_month": 12, "exp_year": year, "cvc": "123"}))["id"]
    call("POST", f"/api/v1/pay/{token}/payments", {"invoice_ids": invoices, "payment_method": card},
         {"idempotency-key": f"funnel-screenshot-{os.getpid()}"})
    time.sleep(1)  # the opens are noted off the request path
    login = call("GET", "/office/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
    call("POST", "/office/login", form={"csrf": csrf, "email": "office@greenleaf.example",
                                        "password": "greenleaf-demo-2026"})
    html = call("GET", "/office/dashboard").replace('"/static/', f'"{base}/static/')
    with open(f"{work}/dashboard.html", "w") as f:
        f.write(html)
    target = os.path.join(root, "docs/screenshots/office-funnel.png")
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={work}/chrome", "--window-size=1280,2300",
                    f"--screenshot={target}", f"file://{work}/dashboard.html"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(target)
finally:
    server.terminate()
    server.wait()
