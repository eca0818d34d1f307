import Domain
import Testing
@testable import Catalog

/// Notifiers, teams' notifiers and stages' owners: what validation refuses, each with file:line
/// and what to do (and never quoting a password back).
@Suite struct NotifierValidationTests {
    static let mail = """
    kind: notifier
    name: mail
    type: smtp
    host: smtp.example.com
    from: ledgerflow@example.com
    """

    @Test func aValidSetReadsAsTypedSpecs() throws {
        let defs = try definitions("""
        kind: secret
        name: smtp_pw
        from_env: SMTP_PASSWORD
        ---
        kind: secret
        name: hook_token
        from_file: token.txt
        ---
        kind: notifier
        name: mail
        type: smtp
        host: smtp.example.com
        security: starttls
        username: mailer
        password: {secret: smtp_pw}
        from: ledgerflow@example.com
        max_attempts: 3
        backoff: 10s
        ---
        kind: notifier
        name: chat
        type: webhook
        url: https://hooks.example.com/x
        headers: {X-Token: {secret: hook_token}, X-Source: ledgerflow}
        ---
        kind: team
        name: ml
        emails: [ml@example.com]
        webhook: chat
        ---
        kind: job
        name: j
        owner: ml
        stages:
          - {name: a, type: script, command: ["true"], owner: ml}
        """)
        let mail = try #require(defs.first { $0.name == "mail" }).spec(as: NotifierSpec.self)
        guard case .smtp(let smtp) = mail.target else { Issue.record("not smtp"); return }
        #expect(smtp.resolvedPort == 587 && smtp.password == "smtp_pw" && smtp.username == "mailer")
        #expect(mail.maxAttempts == 3 && mail.backoff == 10 && mail.secretNames == ["smtp_pw"])
        let chat = try #require(defs.first { $0.name == "chat" }).spec(as: NotifierSpec.self)
        #expect(chat.secretNames == ["hook_token"])
        let team = try #require(defs.first { $0.name == "ml" }).spec(as: TeamSpec.self)
        #expect(team.notifier == nil && team.webhook == "chat" && team.outcomes == [.failure])
        let job = try #require(defs.first { $0.name == "j" }).spec(as: JobSpec.self)
        #expect(job.stages[0].owner == "ml")
    }

    @Test func anSmtpNotifierWithoutHostAndAWebhookWithoutOrWithABadURL() {
        let d = diagnose("""
        kind: notifier
        name: mail
        type: smtp
        from: ledgerflow@example.com
        ---
        kind: notifier
        name: hook
        type: webhook
        ---
        kind: notifier
        name: ftp
        type: webhook
        url: ftp://example.com/x
        """).map(\.description)
        #expect(d.contains("test.yaml:1:1: notifier 'mail' is missing required field 'host'; add `host:` (text)"))
        #expect(d.contains("test.yaml:6:1: notifier 'hook' is missing required field 'url'; add `url:` (text)"))
        #expect(d.contains("test.yaml:13:6: url of notifier 'ftp' is 'ftp://example.com/x', which is not an http:// or https:// URL; write e.g. https://hooks.example.com/ledgerflow"))
    }

    @Test func aPasswordWrittenInlineIsRefusedWithoutBeingQuoted() {
        let d = diagnose("""
        kind: notifier
        name: mail
        type: smtp
        host: smtp.example.com
        security: tls
        username: u
        password: hunter2-secret
        from: ledgerflow@example.com
        """)
        #expect(d.map(\.description) == ["test.yaml:6:11: notifier 'mail' has a username but no password; add `password: {secret: NAME}`",
                                         "test.yaml:7:11: password of notifier 'mail' is written inline; a password must never be in definition files or the log; define a secret (kind: secret, from_env or from_file) and write `password: {secret: NAME}`"])
        #expect(!d.map(\.description).joined().contains("hunter2"))
        let missing = diagnose(Self.mail + "\nsecurity: tls\nusername: u\npassword: {secret: nope}")
        #expect(missing.map(\.description) == ["test.yaml:8:20: notifier 'mail' refers to secret 'nope', which is not defined; define it (kind: secret, name: nope) or fix the name"])
    }

    @Test func aPasswordNeedsAUserAndAnEncryptedConnection() {
        let d = diagnose("""
        kind: secret
        name: pw
        from_env: PW
        ---
        """ + "\n" + Self.mail + "\npassword: {secret: pw}").map(\.description)
        #expect(d.contains { $0.contains("notifier 'mail' has a password but no username; add `username:`") })
        #expect(d.contains { $0.contains("notifier 'mail' would send its password over an unencrypted connection (security none); set `security: starttls` or `security: tls`") })
    }

    @Test func aSecretLookingHeaderWrittenInlineIsRefused() {
        let d = diagnose("""
        kind: notifier
        name: hook
        type: webhook
        url: https://hooks.example.com/x
        headers: {Authorization: Bearer abc, X-Api-Token: abc}
        """).map(\.description)
        #expect(d.count == 2)
        #expect(d.allSatisfy { $0.contains("looks like a secret written inline") })
    }

    @Test func aTeamWhoseNotifierIsMissingAmbiguousOrOfTheWrongType() {
        let two = Self.mail + "\n---\n" + Self.mail.replacingOccurrences(of: "name: mail", with: "name: other")
        var d = diagnose(two + "\n---\nkind: team\nname: ml\nemails: [ml@example.com]").map(\.description)
        #expect(d == ["test.yaml:13:1: team 'ml' names no notifier and 2 smtp notifiers are defined (mail, other); add `notifier: NAME` (one of them)"])
        d = diagnose(Self.mail + "\n---\nkind: team\nname: ml\nemails: [ml@example.com]\nnotifier: mial").map(\.description)
        #expect(d == ["test.yaml:10:11: team 'ml' refers to notifier 'mial', which is not defined; did you mean 'mail'?"])
        d = diagnose(Self.mail + "\n---\nkind: team\nname: ml\nemails: [ml@example.com]\nwebhook: mail").map(\.description)
        #expect(d == ["test.yaml:10:10: team 'ml' names notifier 'mail' as its webhook, but it is an smtp notifier; name a webhook notifier in `webhook:` (an smtp notifier goes in `notifier:`)"])
        // With exactly one smtp notifier, or none at all, a team need not name one.
        #expect(diagnose(Self.mail + "\n---\nkind: team\nname: ml\nemails: [ml@example.com]").isEmpty)
        #expect(diagnose("kind: team\nname: ml\nemails: [ml@example.com]").isEmpty)
    }

    @Test func aTeamWithoutAddressesAndAStageOwnedByAnUnknownTeam() {
        var d = diagnose("kind: team\nname: ml\nemails: []").map(\.description)
        #expect(d == ["test.yaml:3:9: emails of team 'ml' needs at least 1 item; add e-mail addresses"])
        d = diagnose("kind: team\nname: ml").map(\.description)
        #expect(d == ["test.yaml:1:1: team 'ml' is missing required field 'emails'; add `emails:` (a list (at least 1) of e-mail addresses)"])
        d = diagnose("""
        kind: job
        name: j
        stages:
          - {name: a, type: script, command: ["true"], owner: ghosts}
        """).map(\.description)
        #expect(d == ["test.yaml:4:55: job 'j' refers to team 'ghosts', which is not defined; define it (kind: team, name: ghosts) or fix the name"])
    }
}
