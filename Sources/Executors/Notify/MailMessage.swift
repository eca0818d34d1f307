import Foundation

/// An RFC 5322 message with a MIME multipart/alternative body (plain text and HTML), built byte
/// for byte: CRLF line endings, headers folded, a non-ASCII subject as RFC 2047 encoded words,
/// bodies in quoted-printable (so no line is longer than 76 characters and every byte is ASCII).
/// Dot-stuffing is the SMTP client's job (curl does it while uploading; see `CurlTransport`).
public struct MailMessage: Sendable, Hashable {
    public var messageID: String
    /// When the message was decided (µs since 1970): the `Date` header, the same on every attempt.
    public var dateMicros: Int64
    public var from: String
    public var to: [String]
    public var subject: String
    public var text: String
    public var html: String
    /// Extra headers (name, value), e.g. `X-Ledgerflow-Key`.
    public var headers: [(name: String, value: String)]

    public init(messageID: String, dateMicros: Int64, from: String, to: [String], subject: String, text: String, html: String,
                headers: [(name: String, value: String)] = []) {
        self.messageID = messageID
        self.dateMicros = dateMicros
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.headers = headers
    }

    public static func == (a: MailMessage, b: MailMessage) -> Bool { a.bytes == b.bytes }
    public func hash(into h: inout Hasher) { h.combine(bytes) }

    /// The boundary between the parts: `=_` cannot occur in quoted-printable text.
    static let boundary = "=_ledgerflow_alternative_0"

    /// The message as sent (CRLF line endings).
    public var bytes: [UInt8] {
        var lines: [String] = []
        func header(_ name: String, _ value: String) { lines.append(Self.fold("\(name): \(Self.oneLine(value))")) }
        header("Message-ID", messageID)
        header("Date", Self.rfc5322Date(micros: dateMicros))
        header("From", from)
        header("To", to.joined(separator: ", "))
        lines.append(Self.encodedHeader("Subject", Self.oneLine(subject)))
        header("MIME-Version", "1.0")
        for h in headers { header(h.name, h.value) }
        header("Content-Type", "multipart/alternative; boundary=\"\(Self.boundary)\"")
        lines.append("")
        lines.append("This is a message in MIME format (plain text and HTML).")
        for (type, body) in [("text/plain", text), ("text/html", html)] {
            lines.append("--\(Self.boundary)")
            lines.append("Content-Type: \(type); charset=utf-8")
            lines.append("Content-Transfer-Encoding: quoted-printable")
            lines.append("")
            lines.append(Self.quotedPrintable(body))
        }
        lines.append("--\(Self.boundary)--")
        lines.append("")
        return Array(lines.joined(separator: "\r\n").utf8)
    }

    /// A header value on one line (a CR or LF in it would start another header).
    static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
    }

    /// `name: value` folded at spaces so that lines stay within 78 characters where possible.
    static func fold(_ line: String) -> String {
        guard line.utf8.count > 78 else { return line }
        var out: [String] = []
        var current = ""
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            if current.isEmpty {
                current = String(word)
            } else if current.utf8.count + 1 + word.utf8.count > 78 {
                out.append(current)
                current = " " + word
            } else {
                current += " " + word
            }
        }
        out.append(current)
        return out.joined(separator: "\r\n")
    }

    /// A header whose value may hold non-ASCII text: as written when ASCII, else RFC 2047 encoded
    /// words (`=?UTF-8?B?…?=`, each at most 75 characters, whole characters only), folded.
    static func encodedHeader(_ name: String, _ value: String) -> String {
        if value.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 32 && $0.value != 127 }) { return fold("\(name): \(value)") }
        var words: [String] = []
        var chunk: [UInt8] = []
        for c in value {
            let bytes = Array(String(c).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
        return "\(name): " + words.joined(separator: "\r\n ")
    }

    /// `text` in quoted-printable (RFC 2045): its line breaks (LF or CRLF) become CRLF hard
    /// breaks, lines longer than 76 characters get soft breaks, bytes outside printable ASCII
    /// (and `=`, and a space or tab ending a line) are written `=XX`.
    static func quotedPrintable(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [String] = []
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        var lines = normalized.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.utf8) }
        if lines.last?.isEmpty == true && lines.count > 1 { lines.removeLast() }
        for line in lines {
            var encoded: [[UInt8]] = []
            for (i, b) in line.enumerated() {
                let last = i == line.count - 1
                if (b >= 33 && b <= 126 && b != 61) || ((b == 32 || b == 9) && !last) {
                    encoded.append([b])
                } else {
                    encoded.append([61, hex[Int(b >> 4)], hex[Int(b & 15)]])
                }
            }
            var current: [UInt8] = []
            for token in encoded {
                if current.count + token.count > 75 {
                    out.append(String(decoding: current + [61], as: UTF8.self))
                    current = []
                }
                current += token
            }
            out.append(String(decoding: current, as: UTF8.self))
        }
        return out.joined(separator: "\r\n")
    }

    /// `Tue, 06 Jan 2026 10:00:00 +0000`.
    static func rfc5322Date(micros: Int64) -> String {
        let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let day = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rem = seconds - day * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        let weekday = days[Int(((day % 7) + 7) % 7)]
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(weekday), \(two(d)) \(months[Int(m - 1)]) \(y) \(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60)) +0000"
    }
}
