#!/usr/bin/env python3
"""A local SMTP server for the notification tests (aiosmtpd): accepts every message on 127.0.0.1
and writes each one, with its envelope, to a folder as NNNN.json:
{"mail_from", "rcpt_tos", "data" (the message as received, text), "login" (the AUTH user or null)}.

  mail-sink.py --dir DIR [--port N] [--security none|starttls|tls --cert PEM --key PEM]
               [--auth-env VAR]   # require AUTH; VAR holds USER:PASSWORD

Prints "LISTENING <port>" once it accepts connections (port 0: a free one), then serves until
killed."""
import argparse, asyncio, json, os, ssl, sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        login = session.auth_data if session.authenticated else None
        record = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                  "data": envelope.original_content.decode("utf-8", "replace"), "login": login}
        tmp = os.path.join(self.folder, ".%04d.json" % self.count)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.folder, "%04d.json" % self.count))
        return "250 OK stored as %04d" % self.count


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--security", choices=["none", "starttls", "tls"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth-env")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    context = None
    if a.security != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)
    credentials = None
    if a.auth_env:
        user, _, password = os.environ[a.auth_env].partition(":")
        credentials = (user.encode(), password.encode())

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and credentials is not None and (auth_data.login, auth_data.password) == credentials
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)

    sink = Sink(a.dir)

    def factory():
        kwargs = {"enable_SMTPUTF8": True, "data_size_limit": 10 * 1024 * 1024}
        if a.security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        if credentials is not None:
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=a.security != "none")
        return SMTP(sink, hostname="mail-sink.test", **kwargs)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, "127.0.0.1", a.port, ssl=context if a.security == "tls" else None)
        print("LISTENING %d" % server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
