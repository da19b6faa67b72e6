#!/usr/bin/env python3
"""Renders the README's screenshots in docs/screenshots/ (run by
scripts/screenshots.sh):

- from a fresh demo: the quick payment page on a phone (after one payment), the
  office pages on a laptop, a starter email as the customer sees it, and the
  customer portal on a phone;
- from a second server on an empty database: /setup, then the setup checklist
  of the company it creates.

Signs in as a browser does (the sign-in forms' CSRF cookie and token); the
test card expires three years after the current year. Needs a built fieldpay
(target/debug/fieldpay, or FIELDPAY_BIN) and chromium. Standard library only."""

import email
import email.policy
import glob
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.environ.get("FIELDPAY_BIN", os.path.join(root, "target/debug/fieldpay"))
out_dir = os.path.join(root, "docs/screenshots")
work = tempfile.mkdtemp(prefix="fieldpay-screenshots-")
servers = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A fieldpay process on its own database, port and spool, with a
    browser-like client (cookies, forms with Origin)."""

    def __init__(self, name, command):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.spool = os.path.join(self.dir, "spool")
        env = dict(
            os.environ,
            FIELDPAY_DATABASE_URL=f"sqlite://{self.dir}/fieldpay.db",
            FIELDPAY_BIND=f"127.0.0.1:{port}",
            FIELDPAY_BASE_URL=self.base,
            FIELDPAY_SPOOL_DIR=self.spool,
            FIELDPAY_LOG="warn",
        )
        self.out = open(os.path.join(self.dir, "out"), "w+")
        self.process = subprocess.Popen([binary, command], env=env, stdout=self.out,
                                        stderr=subprocess.DEVNULL)
        servers.append(self)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        for _ in range(120):
            try:
                self.call("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit(f"{name}: the server did not start")

    def printed(self):
        self.out.seek(0)
        return self.out.read()

    def call(self, method, path, body=None, headers=None, form=None):
        data = None
        headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
            headers["origin"] = self.base
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with self.opener.open(req, timeout=30) as r:
            return r.read().decode()

    def csrf(self, path):
        """The CSRF token of the form on the page at `path` (its cookie kept)."""
        return re.search(r'name="csrf" value="([^"]+)"', self.call("GET", path)).group(1)

    def page_file(self, path, name):
        """Saves the page at `path` (this client's session) as a file whose
        asset links point back at the server; answers its file:// URL."""
        html = self.call("GET", path).replace('"/static/', f'"{self.base}/static/')
        return self.html_file(html, name)

    def html_file(self, html, name):
        file = os.path.join(self.dir, f"{name}.html")
        with open(file, "w") as f:
            f.write(html)
        return f"file://{file}"

    def spooled_emails(self):
        found = []
        for path in sorted(glob.glob(os.path.join(self.spool, "*.eml"))):
            with open(path, "rb") as f:
                found.append(email.message_from_binary_file(f, policy=email.policy.default))
        return found


def shot(url, name, width, height):
    target = os.path.join(out_dir, f"{name}.png")
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                    f"--user-data-dir={work}/chrome", f"--window-size={width},{height}",
                    f"--screenshot={target}", url],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(target)


def demo_screenshots():
    demo = Server("demo", "demo")
    text = demo.printed()
    key = re.search(r"API key:\s+(\S+)", text).group(1)
    links = dict(re.findall(r"^\s+(\w+ \w+)\s+(http\S+/pay/\S+)$", text, re.M))
    auth = {"authorization": f"Bearer {key}"}

    # One quick payment, so the dashboard and the payments list have something
    # to show: a sandbox test card expiring three years from now.
    token = links["Maria Homeowner"].rsplit("/", 1)[1]
    year = time.gmtime().tm_year + 3
    card = json.loads(demo.call("POST", "/sandbox/v1/tokens",
                                {"number": "4242424242424242", "exp_month": 12,
                                 "exp_year": year, "cvc": "123"}))["id"]
    page = json.loads(demo.call("GET", f"/api/v1/pay/{token}"))
    invoice = page["properties"][0]["invoices"][-1]["id"]
    demo.call("POST", f"/api/v1/pay/{token}/payments",
              {"invoice_ids": [invoice], "payment_method": card},
              {"idempotency-key": f"screenshots-{os.getpid()}"})
    shot(links["Lena Landlord"], "pay-page-phone", 360, 1500)
    # The same page in Spanish, as a phone shows it at first.
    shot(links["Lena Landlord"] + "?lang=es", "paypage-es-phone", 360, 740)

    # The office, signed in through its form.
    csrf = demo.csrf("/office/login")
    demo.call("POST", "/office/login", form={"csrf": csrf, "email": "office@greenleaf.example",
                                             "password": "greenleaf-demo-2026"})
    for path in ("dashboard", "customers", "invoices", "payments", "settings/invoice"):
        name = "office-" + path.replace("/", "-")
        shot(demo.page_file(f"/office/{path}", name), name, 1280, 900)

    # A starter email (the default "Payment reminder") drawn for Lena as she
    # gets it: the office's "See the email as the customer sees it".
    customers = json.loads(demo.call("GET", "/api/v1/customers", headers=auth))["data"]
    lena = next(c for c in customers if c["name"] == "Lena Landlord")
    send = demo.call("GET", f"/office/customers/{lena['id']}/send?channel=email")
    form = {
        "csrf": re.search(r'name="csrf" value="([^"]+)"', send).group(1),
        "nonce": re.search(r'name="nonce" value="([^"]*)"', send).group(1),
        "template": re.search(r'<option value="([^"]+)" selected>', send).group(1),
        "invoice_id": (re.search(r'<option value="(inv_[^"]+)" selected>', send) or
                       re.search(r'<option value="(inv_[^"]+)"', send)).group(1),
        "message": "",
        "action": "document",
    }
    drawn = demo.call("POST", f"/office/customers/{lena['id']}/send", form=form)
    shot(demo.html_file(drawn, "email"), "email-starter", 700, 1100)

    # The customer portal on a phone, signed in by the emailed link.
    csrf = demo.csrf("/portal/login")
    demo.call("POST", "/portal/login-link", form={"csrf": csrf, "email": "lena@example.com"})
    link = None
    for _ in range(60):
        for message in demo.spooled_emails():
            body = message.get_body(preferencelist=("plain",)).get_content()
            found = re.search(r"/portal/link/([A-Za-z0-9_-]+)", body)
            if found:
                link = found.group(1)
        if link:
            break
        time.sleep(0.5)
    if not link:
        raise SystemExit("no portal sign-in link was emailed")
    demo.call("POST", f"/portal/link/{link}", form={})
    shot(demo.page_file("/portal", "portal"), "portal-phone", 360, 1100)


def setup_screenshots():
    fresh = Server("fresh", "serve")
    shot(fresh.base + "/setup", "setup", 1280, 900)
    csrf = fresh.csrf("/setup")
    fresh.call("POST", "/setup", form={"csrf": csrf, "company_name": "Bluebonnet Pest Co",
                                       "owner_email": "owner@bluebonnet.example",
                                       "owner_password": "a long enough password",
                                       "time_zone": "America/Chicago"})
    shot(fresh.page_file("/office/dashboard", "checklist"), "setup-checklist", 1280, 900)


try:
    os.makedirs(out_dir, exist_ok=True)
    demo_screenshots()
    setup_screenshots()
finally:
    for s in servers:
        s.process.terminate()
        s.process.wait()
    subprocess.run(["rm", "-rf", work])
