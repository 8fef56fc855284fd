#include "reflex/base/redact.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "reflex/base/strings.h"

namespace reflex::base {
namespace {

bool IsSchemeChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
}

// Where a URL quoted in free text ends: at a blank, a quote or an angle bracket.
bool EndsUrl(char c) {
  return IsBlank(c) || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' || c == '\\';
}

// The parts of an absolute URL: [0, authority) scheme and "://", userinfo (before '@' in the
// authority), host to the end of the path, the query, the fragment.
struct UrlParts {
  bool absolute = false;
  std::string_view prefix;    // "https://"
  std::string_view userinfo;  // "user:pass" (no '@')
  bool has_userinfo = false;
  std::string_view host_path;  // "host:port/path"
  std::string_view query;      // without '?'
  bool has_query = false;
};

UrlParts SplitUrl(std::string_view url) {
  UrlParts p;
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return p;
  if (std::isalpha(static_cast<unsigned char>(url[0])) == 0) return p;
  for (size_t i = 0; i < sep; ++i) {
    if (!IsSchemeChar(url[i])) return p;
  }
  p.absolute = true;
  p.prefix = url.substr(0, sep + 3);
  std::string_view rest = url.substr(sep + 3);
  const size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  const size_t auth_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, auth_end);
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    p.has_userinfo = true;
    p.userinfo = authority.substr(0, at);
    rest = rest.substr(at + 1);
  }
  const size_t q = rest.find('?');
  p.host_path = rest.substr(0, q);
  if (q != std::string_view::npos) {
    p.has_query = true;
    p.query = rest.substr(q + 1);
  }
  return p;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

void AddSecret(std::string_view s, SecretList* out) {
  if (s.empty()) return;
  out->emplace_back(s);
  std::string decoded = PercentDecode(s);
  if (decoded != s) out->push_back(std::move(decoded));
}

void ReplaceAll(std::string* text, std::string_view needle) {
  if (needle.size() < kMinSecretLength) return;
  size_t pos = 0;
  while ((pos = text->find(needle, pos)) != std::string::npos) {
    text->replace(pos, needle.size(), kRedacted);
    pos += kRedacted.size();
  }
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  const UrlParts p = SplitUrl(url);
  if (!p.absolute) return std::string(url);
  std::string out(p.prefix);
  if (p.has_userinfo) {
    out += kRedacted;
    out += '@';
  }
  out += p.host_path;
  if (p.has_query) {
    out += '?';
    out += kRedacted;
  }
  return out;
}

SecretList UrlSecrets(std::string_view url) {
  SecretList out;
  const UrlParts p = SplitUrl(url);
  if (!p.absolute) return out;
  if (p.has_userinfo) {
    AddSecret(p.userinfo, &out);
    // What an HTTP client sends for it: "Authorization: Basic <base64(user:password)>".
    out.push_back(Base64(PercentDecode(p.userinfo)));
    const size_t colon = p.userinfo.find(':');
    if (colon != std::string_view::npos) {
      AddSecret(p.userinfo.substr(0, colon), &out);
      AddSecret(p.userinfo.substr(colon + 1), &out);
    }
  }
  if (p.has_query) {
    AddSecret(p.query, &out);
    for (std::string_view pair : Split(p.query, '&')) {
      const size_t eq = pair.find('=');
      AddSecret(eq == std::string_view::npos ? pair : pair.substr(eq + 1), &out);
    }
  }
  return out;
}

bool IsSecretHeader(std::string_view name) {
  const std::string n = AsciiLower(name);
  if (n == "authorization" || n == "proxy-authorization" || n == "cookie" || n == "set-cookie") {
    return true;
  }
  for (std::string_view part :
       {"token", "secret", "api-key", "apikey", "api_key", "password", "signature"}) {
    if (n.find(part) != std::string::npos) return true;
  }
  return false;
}

SecretList HeaderSecrets(std::string_view value) {
  SecretList out;
  const std::string_view v = Trim(value);
  if (v.empty()) return out;
  out.emplace_back(v);
  const size_t space = v.find(' ');
  if (space != std::string_view::npos) {
    const std::string_view token = Trim(v.substr(space + 1));
    if (!token.empty()) out.emplace_back(token);
  }
  return out;
}

std::string RedactSecrets(std::string_view text, const SecretList& secrets) {
  std::string out;
  out.reserve(text.size());
  // Every absolute URL in the text, through RedactUrl.
  size_t copied = 0;
  size_t search = 0;
  while (true) {
    const size_t sep = text.find("://", search);
    if (sep == std::string_view::npos) break;
    size_t start = sep;
    while (start > copied && IsSchemeChar(text[start - 1])) --start;
    while (start < sep && std::isalpha(static_cast<unsigned char>(text[start])) == 0) ++start;
    size_t end = sep + 3;
    while (end < text.size() && !EndsUrl(text[end])) ++end;
    if (start == sep) {  // "://" without a scheme
      search = sep + 3;
      continue;
    }
    out.append(text.substr(copied, start - copied));
    out += RedactUrl(text.substr(start, end - start));
    copied = end;
    search = end;
  }
  out.append(text.substr(copied));
  // Then the known secrets, longest first so a secret that contains another goes whole.
  std::vector<std::string_view> sorted(secrets.begin(), secrets.end());
  std::sort(sorted.begin(), sorted.end(),
            [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
  for (std::string_view s : sorted) ReplaceAll(&out, s);
  return out;
}

}  // namespace reflex::base
