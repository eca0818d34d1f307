import Domain
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The repository's `tools/` folder (the test servers' scripts live there).
public let toolsDirectory: String = {
    // Sources/TestSupport/MailSink.swift → the repository root.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent("tools").path
}()

/// A port on 127.0.0.1 that was free a moment ago (for a server a test starts later).
public func freeLocalPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SinkFailure("socket() failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    guard bound == 0 else { throw SinkFailure("bind() failed") }
    let named = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    guard named == 0 else { throw SinkFailure("getsockname() failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

public struct SinkFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// One message a test server received.
public struct ReceivedMail: Sendable {
    public var from: String
    public var recipients: [String]
    /// The message as received (CRLF line endings).
    public var data: String
    /// The AUTH user, when the client authenticated.
    public var login: String?

    public init(from: String, recipients: [String], data: String, login: String?) {
        self.from = from
        self.recipients = recipients
        self.data = data
        self.login = login
    }

    /// The message's body parts decoded from quoted-printable, joined (for content checks).
    public var decodedBody: String {
        let unfolded = data.replacingOccurrences(of: "=\r\n", with: "")
        var bytes: [UInt8] = []
        let u = Array(unfolded.utf8)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "="), i + 2 < u.count, let b = UInt8(String(decoding: u[(i + 1) ... (i + 2)], as: UTF8.self), radix: 16) {
                bytes.append(b)
                i += 3
            } else {
                bytes.append(u[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value of header `name` (first occurrence, unfolded).
    public func header(_ name: String) -> String? {
        let head = data.components(separatedBy: "\r\n\r\n").first ?? ""
        let unfolded = head.replacingOccurrences(of: "\r\n ", with: " ")
        for line in unfolded.components(separatedBy: "\r\n") where line.lowercased().hasPrefix(name.lowercased() + ":") {
            return String(line.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}

/// `tools/mail-sink.py` (aiosmtpd) on 127.0.0.1, writing what it receives to a folder.
public final class MailSink {
    public let folder: String
    public let port: Int
    let process: BackgroundProcess

    /// Starts the server (`port` 0: a free one); `auth` = (user, password) requires AUTH.
    public init(folder: String, port: Int = 0, security: String = "none", cert: String? = nil, key: String? = nil, auth: (String, String)? = nil) throws {
        self.folder = folder
        var args = ["python3", (toolsDirectory as NSString).appendingPathComponent("mail-sink.py"), "--dir", folder, "--port", String(port), "--security", security]
        if let cert, let key { args += ["--cert", cert, "--key", key] }
        var env = ProcessInfo.processInfo.environment
        if let auth {
            env["MAIL_SINK_AUTH"] = "\(auth.0):\(auth.1)"
            args += ["--auth-env", "MAIL_SINK_AUTH"]
        }
        process = try BackgroundProcess("/usr/bin/env", args, environment: env)
        try process.waitForOutput("LISTENING", timeout: 20) { $0.contains("LISTENING ") }
        guard let p = process.stdout.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            throw SinkFailure("mail-sink.py printed no port: \(process.stdout) \(process.stderr)")
        }
        self.port = p
    }

    deinit { process.stop() }

    /// An smtp notifier definition (YAML, no security, sender ledgerflow@example.com) that sends to this sink.
    public func notifierYAML(name: String = "mail") -> String {
        "kind: notifier\nname: \(name)\ntype: smtp\nhost: 127.0.0.1\nport: \(port)\nfrom: ledgerflow@example.com\n"
    }

    /// Stops the server now.
    public func stop() { process.stop() }

    /// The messages received so far, in order.
    public func messages() throws -> [ReceivedMail] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
        return try names.map { name in
            let text = try String(contentsOfFile: (folder as NSString).appendingPathComponent(name), encoding: .utf8)
            let v = try Value(json: text)
            return ReceivedMail(from: v["mail_from"]?.stringValue ?? "", recipients: (v["rcpt_tos"]?.arrayValue ?? []).compactMap(\.stringValue),
                                data: v["data"]?.stringValue ?? "", login: v["login"]?.stringValue)
        }
    }
}

/// One request a webhook test server received.
public struct ReceivedRequest: Sendable {
    public var path: String
    /// Header name (lower case) → value.
    public var headers: [String: String]
    public var body: String
}

/// `tools/webhook-sink.py` (http.server) on 127.0.0.1.
public final class WebhookSink {
    public let folder: String
    public let port: Int
    let process: BackgroundProcess

    public init(folder: String, status: Int = 200) throws {
        self.folder = folder
        process = try BackgroundProcess("/usr/bin/env", ["python3", (toolsDirectory as NSString).appendingPathComponent("webhook-sink.py"), "--dir", folder,
                                                         "--status", String(status)])
        try process.waitForOutput("LISTENING", timeout: 20) { $0.contains("LISTENING ") }
        guard let p = process.stdout.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            throw SinkFailure("webhook-sink.py printed no port: \(process.stdout) \(process.stderr)")
        }
        self.port = p
    }

    deinit { process.stop() }

    public func requests() throws -> [ReceivedRequest] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
        return try names.map { name in
            let v = try Value(json: try String(contentsOfFile: (folder as NSString).appendingPathComponent(name), encoding: .utf8))
            var headers: [String: String] = [:]
            for m in v["headers"]?.objectMembers ?? [] { headers[m.key] = m.value.stringValue }
            return ReceivedRequest(path: v["path"]?.stringValue ?? "", headers: headers, body: v["body"]?.stringValue ?? "")
        }
    }
}

/// A self-signed certificate for 127.0.0.1 made with `openssl` in `folder`: (cert, key) paths.
public func selfSignedCertificate(in folder: String) throws -> (cert: String, key: String) {
    let cert = (folder as NSString).appendingPathComponent("cert.pem"), key = (folder as NSString).appendingPathComponent("key.pem")
    let r = try run("/usr/bin/env", ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                                     "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
    guard r.status == 0 else { throw SinkFailure("openssl failed: \(r.stderr)") }
    return (cert, key)
}
