#include "reflex/engine/template.h"

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::ParseEvent;

Event Sample() {
  return ParseEvent(R"({"id":"e1","ts":1764000000,"source":"prom","message":"disk full",
      "labels":{"instance":"web1","service":"nginx","quote":"a\"b"},"values":{"usage":93.5},
      "payload":{"a":{"b":[7]}}})");
}

TEST(TemplateTest, LiteralOnly) {
  auto t = Template::Parse("restart now");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->is_literal());
  EXPECT_TRUE(t->variables().empty());
  EXPECT_EQ(t->Render(Sample()), "restart now");
  EXPECT_EQ(t->source(), "restart now");
  auto empty = Template::Parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->Render(Sample()), "");
}

TEST(TemplateTest, RendersFieldsOfEveryKind) {
  auto t = Template::Parse(
      "restart {{labels.service}} on {{ instance }} ({{values.usage}}%) id={{id}} "
      "src={{source}} msg={{message}} p={{payload.a.b[0]}}");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_FALSE(t->is_literal());
  EXPECT_EQ(t->Render(Sample()), "restart nginx on web1 (93.5%) id=e1 src=prom msg=disk full p=7");
  std::vector<FieldPath> vars = t->variables();
  ASSERT_EQ(vars.size(), 7u);
  EXPECT_EQ(vars[0].text(), "labels.service");
  EXPECT_EQ(vars[1].text(), "instance");
  EXPECT_EQ(vars[6].text(), "payload.a.b[0]");
}

TEST(TemplateTest, AdjacentAndRepeatedPlaceholders) {
  auto t = Template::Parse("{{instance}}{{instance}}-{{service}}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render(Sample()), "web1web1-nginx");
}

TEST(TemplateTest, MissingFieldsRenderEmptyOrDefault) {
  auto t = Template::Parse(
      "team={{labels.team}};a={{ labels.team | default(\"ops\") }};b={{labels.team|default('x "
      "y')}};"
      "c={{labels.team | default(bare)}};d={{labels.team | default()}};e={{labels.instance | "
      "default(\"unused\")}}");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->Render(Sample()), "team=;a=ops;b=x y;c=bare;d=;e=web1");
}

TEST(TemplateTest, OutputIsNotEscaped) {
  // Rendering produces plain text; callers escape it for their own format.
  auto t = Template::Parse("q={{labels.quote}} <&>");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render(Sample()), "q=a\"b <&>");
  // A lone brace or closing braces are literal text.
  auto braces = Template::Parse("{ x } }} {y}");
  ASSERT_TRUE(braces.ok());
  EXPECT_EQ(braces->Render(Sample()), "{ x } }} {y}");
  // Field values are not re-expanded.
  Event ev;
  ev.SetLabel("x", "{{labels.y}}");
  ev.SetLabel("y", "boom");
  EXPECT_EQ(Template::Parse("{{x}}")->Render(ev), "{{labels.y}}");
}

TEST(TemplateTest, RenderToAppends) {
  auto t = Template::Parse("-{{instance}}");
  ASSERT_TRUE(t.ok());
  std::string out = "prefix";
  t->RenderTo(Sample(), &out);
  EXPECT_EQ(out, "prefix-web1");
}

TEST(TemplateTest, ParseErrorsCarryTheOffset) {
  struct Case {
    const char* text;
    const char* needle;
  } cases[] = {
      {"abc {{labels.x", "template offset 5: '{{' without a closing '}}'"},
      {"{{}}", "template offset 1: empty placeholder"},
      {"x{{   }}", "template offset 2: empty placeholder"},
      {"{{labels.x | upper}}", "unknown filter 'upper'"},
      {"{{labels.x | default(\"a\"}}", "unknown filter"},
      {"{{labels.x | }}", "unknown filter"},
      {"ok {{foo.bar}}", "template offset 4: unknown field root 'foo'"},
      {"{{labels.}}", "missing name"},
      {"{{ | default(\"x\")}}", "empty field name"},
  };
  for (const auto& c : cases) {
    auto t = Template::Parse(c.text);
    ASSERT_FALSE(t.ok()) << "accepted: " << c.text;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find(c.needle), std::string::npos)
        << c.text << " -> " << t.status().message();
  }
}

}  // namespace
}  // namespace reflex::engine
