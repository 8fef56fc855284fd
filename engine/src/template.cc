#include "reflex/engine/template.h"

#include "reflex/base/strings.h"

namespace reflex::engine {
namespace {

using base::Trim;

}  // namespace

Status TemplateErrorAt(size_t offset, const std::string& message) {
  return InvalidArgument("template offset " + std::to_string(offset + 1) + ": " + message);
}

Status ScanTemplate(
    std::string_view text,
    const std::function<Status(std::string literal, const TemplatePlaceholder* placeholder)>&
        on_segment) {
  size_t pos = 0;
  std::string literal;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      literal.append(text.substr(pos));
      break;
    }
    literal.append(text.substr(pos, open - pos));
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return TemplateErrorAt(open, "'{{' without a closing '}}'");
    }
    std::string_view inner = Trim(text.substr(open + 2, close - open - 2));
    if (inner.empty()) return TemplateErrorAt(open, "empty placeholder '{{}}'");
    TemplatePlaceholder p;
    p.offset = open;
    size_t bar = inner.find('|');
    p.name = Trim(inner.substr(0, bar));
    if (bar != std::string_view::npos) {
      std::string_view filter = Trim(inner.substr(bar + 1));
      constexpr std::string_view kDefault = "default(";
      if (filter.substr(0, kDefault.size()) != kDefault || filter.back() != ')') {
        return TemplateErrorAt(open, "unknown filter '" + std::string(filter) +
                                         "' (the only filter is default(\"text\"))");
      }
      std::string_view arg = Trim(filter.substr(kDefault.size(), filter.size() - 9));
      if (arg.size() >= 2 && (arg.front() == '"' || arg.front() == '\'') &&
          arg.back() == arg.front()) {
        arg = arg.substr(1, arg.size() - 2);
      }
      p.fallback = std::string(arg);
    }
    if (Status s = on_segment(std::move(literal), &p); !s.ok()) return s;
    literal.clear();
    pos = close + 2;
  }
  return on_segment(std::move(literal), nullptr);
}

Result<Template> Template::Parse(std::string_view text) {
  Template t;
  t.source_ = std::string(text);
  Status s = ScanTemplate(text, [&t](std::string literal, const TemplatePlaceholder* p) {
    if (p == nullptr) {
      if (!literal.empty() || t.segments_.empty()) {
        t.segments_.push_back(Segment{std::move(literal), -1});
      }
      return Status::Ok();
    }
    Var var;
    var.fallback = p->fallback;
    std::string_view name = p->name;
    constexpr std::string_view kEvents = "events.";
    if (name.substr(0, kEvents.size()) == kEvents) {
      std::string_view rest = name.substr(kEvents.size());
      constexpr std::string_view kFirst = "first.", kLast = "last.";
      if (rest == "count") {
        var.kind = VarKind::kEventsCount;
      } else if (rest.substr(0, kFirst.size()) == kFirst) {
        var.kind = VarKind::kEventsFirst;
        name = rest.substr(kFirst.size());
      } else if (rest.substr(0, kLast.size()) == kLast) {
        var.kind = VarKind::kEventsLast;
        name = rest.substr(kLast.size());
      } else {
        return TemplateErrorAt(p->offset, "unknown '" + std::string(p->name) +
                                              "' (events.count, events.first.<field> or "
                                              "events.last.<field>)");
      }
    }
    if (var.kind != VarKind::kEventsCount) {
      auto path = FieldPath::Parse(name);
      if (!path.ok()) return TemplateErrorAt(p->offset, path.status().message());
      var.path = std::move(*path);
    }
    t.vars_.push_back(std::move(var));
    t.segments_.push_back(Segment{std::move(literal), static_cast<int>(t.vars_.size() - 1)});
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return t;
}

void Template::RenderTo(const Event& ev, std::string* out, const EventsView* events) const {
  for (const Segment& seg : segments_) {
    out->append(seg.literal);
    if (seg.var < 0) continue;
    const Var& var = vars_[static_cast<size_t>(seg.var)];
    FieldValue v;
    switch (var.kind) {
      case VarKind::kField:
        v = ev.Get(var.path);
        break;
      case VarKind::kEventsCount:
        if (events != nullptr) v = events->Count();
        break;
      case VarKind::kEventsFirst:
      case VarKind::kEventsLast:
        if (events != nullptr) v = events->Member(var.kind == VarKind::kEventsFirst, var.path);
        break;
    }
    if (v.missing()) {
      out->append(var.fallback);
    } else {
      out->append(v.text());
    }
  }
}

std::vector<FieldPath> Template::variables() const {
  std::vector<FieldPath> r;
  r.reserve(vars_.size());
  for (const Var& v : vars_) {
    if (v.kind == VarKind::kField) r.push_back(v.path);
  }
  return r;
}

bool Template::uses_events() const {
  for (const Var& v : vars_) {
    if (v.kind != VarKind::kField) return true;
  }
  return false;
}

std::vector<FieldPath> Template::member_variables() const {
  std::vector<FieldPath> r;
  for (const Var& v : vars_) {
    if (v.kind == VarKind::kEventsFirst || v.kind == VarKind::kEventsLast) r.push_back(v.path);
  }
  return r;
}

}  // namespace reflex::engine
