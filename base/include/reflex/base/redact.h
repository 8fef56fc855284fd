// Redaction: the one place that decides what of a URL, a header or a known secret may be
// shown in an error message, a log line, a journal row or a notice.
//
// A URL's userinfo ("user:pass@") and its query string are treated as secret (webhook and
// chat URLs carry tokens there); the scheme, host, port and path are kept so a message
// still says where a request went. RedactSecrets replaces every occurrence of the secrets
// the caller knows (a bearer token, a routing key, the parts of a URL) and, in any case,
// the userinfo and query of every absolute URL found in the text, so a message that quotes
// a URL nobody registered is still safe. Secrets shorter than kMinSecretLength are not
// searched for as bare text (they would blank out ordinary words); they are still removed
// where they appear inside a URL.
//
// Pure functions over views; thread-safe.
//
//   RedactUrl("https://u:p@hooks.example/x?token=t")   // "https://***@hooks.example/x?***"
//   SecretList s = UrlSecrets(url);  // {"u:p", "dTpw", "u", "p", "token=t", "t"}
//   s.push_back(bearer_token);
//   log(RedactSecrets(error_text, s));
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace reflex::base {

// What a redacted part is replaced by.
inline constexpr std::string_view kRedacted = "***";
// Known secrets shorter than this are not replaced as bare text (see above).
inline constexpr size_t kMinSecretLength = 4;

using SecretList = std::vector<std::string>;

// `url` with its userinfo replaced by "***" and its query string (after '?', up to a '#')
// replaced by "***"; the fragment is dropped. Text that is not an absolute URL
// ("scheme://...") is returned unchanged.
std::string RedactUrl(std::string_view url);

// The secret parts of `url`, each as written and percent-decoded: the userinfo, its user and
// password, the userinfo as HTTP Basic credentials (base64), the query string and each query
// value. Empty when the URL has none.
SecretList UrlSecrets(std::string_view url);

// True for headers whose value is a credential: Authorization, Proxy-Authorization, Cookie,
// Set-Cookie, and any name containing "token", "secret", "api-key", "apikey", "password"
// or "signature" (ASCII case-insensitive).
bool IsSecretHeader(std::string_view name);

// The credential of a secret header's value: the whole value, and for "<scheme> <token>"
// also the token alone.
SecretList HeaderSecrets(std::string_view value);

// `text` with every occurrence of each secret in `secrets` (of kMinSecretLength or more)
// replaced by "***", and every absolute URL in it passed through RedactUrl.
std::string RedactSecrets(std::string_view text, const SecretList& secrets = {});

}  // namespace reflex::base
