// Tests of the Prometheus text writer: escaping, name checks, numbers, and
// one # HELP/# TYPE per family with its samples together.
#define BOOST_TEST_MODULE prometheus_writer
#include "courier/prometheus_writer.hpp"

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using courier::metric_type;
using courier::prometheus_writer;

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string_view::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

void router_part(prometheus_writer& w, std::string_view router,
                 std::uint64_t n) {
  w.family("routed_total", metric_type::counter, "Events routed.");
  w.sample("routed_total", {{"router", router}}, n);
  w.family("history_events", metric_type::gauge, "Events kept.");
  w.sample("history_events", {{"router", router}}, n * 10);
}

}  // namespace

BOOST_AUTO_TEST_CASE(label_values_are_escaped) {
  prometheus_writer w;
  w.family("m", metric_type::gauge, "");
  w.sample("m", {{"subject", "evil\",job=\"pwn"}}, 1);
  w.sample("m", {{"a", "back\\slash"}, {"b", "new\nline"}}, 2);
  BOOST_TEST(w.str() ==
             "# TYPE m gauge\n"
             "m{subject=\"evil\\\",job=\\\"pwn\"} 1\n"
             "m{a=\"back\\\\slash\",b=\"new\\nline\"} 2\n");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_label_value_becomes_a_replacement) {
  prometheus_writer w;
  w.family("m", metric_type::gauge, "");
  w.sample("m",
           {{"s",
             "a\xff"
             "b\xc3\xa9"}},
           1);
  w.sample("m", {{"s", "\xed\xa0\x80"}}, 2);
  BOOST_TEST(w.str() ==
             "# TYPE m gauge\n"
             "m{s=\"a\xef\xbf\xbd"
             "b\xc3\xa9\"} 1\n"
             "m{s=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"} 2\n");
}

BOOST_AUTO_TEST_CASE(help_escapes_backslash_and_newline_not_quotes) {
  prometheus_writer w;
  w.family("m", metric_type::counter, "a \"b\" \\ c\nd");
  BOOST_TEST(w.str() ==
             "# HELP m a \"b\" \\\\ c\\nd\n"
             "# TYPE m counter\n");
}

BOOST_AUTO_TEST_CASE(two_producers_share_one_header_per_family) {
  prometheus_writer w;
  router_part(w, "a", 1);
  router_part(w, "b", 2);
  BOOST_TEST(w.str() ==
             "# HELP routed_total Events routed.\n"
             "# TYPE routed_total counter\n"
             "routed_total{router=\"a\"} 1\n"
             "routed_total{router=\"b\"} 2\n"
             "# HELP history_events Events kept.\n"
             "# TYPE history_events gauge\n"
             "history_events{router=\"a\"} 10\n"
             "history_events{router=\"b\"} 20\n");
}

BOOST_AUTO_TEST_CASE(merged_parts_group_each_family) {
  prometheus_writer edge;
  edge.family("up", metric_type::gauge, "Up.");
  edge.sample("up", {}, 1);
  router_part(edge, "local", 3);
  prometheus_writer a;
  prometheus_writer b;
  router_part(a, "a", 1);
  router_part(b, "b", 2);
  b.family("extra", metric_type::untyped, "");
  b.sample("extra", {}, -4);
  edge.merge(a);
  edge.merge(b);
  std::string text = edge.str();
  BOOST_TEST(count(text, "# TYPE routed_total") == 1u);
  BOOST_TEST(count(text, "# HELP history_events") == 1u);
  BOOST_TEST(text.find("routed_total{router=\"local\"} 3\n"
                       "routed_total{router=\"a\"} 1\n"
                       "routed_total{router=\"b\"} 2\n") != std::string::npos);
  BOOST_TEST(text.find("history_events{router=\"local\"} 30\n"
                       "history_events{router=\"a\"} 10\n"
                       "history_events{router=\"b\"} 20\n") !=
             std::string::npos);
  BOOST_TEST(text.ends_with("# TYPE extra untyped\nextra -4\n"));
}

BOOST_AUTO_TEST_CASE(histograms_take_bucket_sum_and_count) {
  prometheus_writer w;
  w.family("d", metric_type::histogram, "Durations.");
  w.sample("d_bucket", {{"le", prometheus_writer::number(0.005)}}, 1);
  w.sample("d_bucket",
           {{"le", prometheus_writer::number(
                       std::numeric_limits<double>::infinity())}},
           2);
  w.sample("d_sum", {}, 0.25);
  w.sample("d_count", {}, 2);
  BOOST_TEST(w.str() ==
             "# HELP d Durations.\n"
             "# TYPE d histogram\n"
             "d_bucket{le=\"0.005\"} 1\n"
             "d_bucket{le=\"+Inf\"} 2\n"
             "d_sum 0.25\n"
             "d_count 2\n");
  BOOST_CHECK_THROW(w.sample("d", {}, 1), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(numbers_keep_their_precision) {
  using limits = std::numeric_limits<double>;
  BOOST_TEST(prometheus_writer::number(2.5) == "2.5");
  BOOST_TEST(prometheus_writer::number(0.1) == "0.1");
  BOOST_TEST(prometheus_writer::number(0.0005) == "0.0005");
  BOOST_TEST(prometheus_writer::number(100000) == "100000");
  BOOST_TEST(prometheus_writer::number(1e21) == "1e+21");
  BOOST_TEST(prometheus_writer::number(limits::infinity()) == "+Inf");
  BOOST_TEST(prometheus_writer::number(-limits::infinity()) == "-Inf");
  BOOST_TEST(prometheus_writer::number(limits::quiet_NaN()) == "NaN");
  prometheus_writer w;
  w.family("big", metric_type::counter, "");
  w.sample("big", {}, std::numeric_limits<std::uint64_t>::max());
  BOOST_TEST(w.str().ends_with("big 18446744073709551615\n"));
}

BOOST_AUTO_TEST_CASE(bad_names_and_misuse_throw) {
  prometheus_writer w;
  BOOST_CHECK_THROW(w.family("", metric_type::gauge, ""),
                    std::invalid_argument);
  BOOST_CHECK_THROW(w.family("9lives", metric_type::gauge, ""),
                    std::invalid_argument);
  BOOST_CHECK_THROW(w.family("a b", metric_type::gauge, ""),
                    std::invalid_argument);
  BOOST_CHECK_THROW(w.family("x{y=\"1\"}", metric_type::gauge, ""),
                    std::invalid_argument);
  w.family("ns:m_1", metric_type::gauge, "");
  BOOST_CHECK_THROW(w.family("ns:m_1", metric_type::counter, ""),
                    std::invalid_argument);
  BOOST_CHECK_THROW(w.sample("undeclared", {}, 1), std::invalid_argument);
  BOOST_CHECK_THROW(w.sample("ns:m_1_count", {}, 1), std::invalid_argument);
  BOOST_CHECK_THROW(w.sample("ns:m_1", {{"a:b", "v"}}, 1),
                    std::invalid_argument);
  BOOST_CHECK_THROW(w.sample("ns:m_1", {{"__name__", "v"}}, 1),
                    std::invalid_argument);
  BOOST_CHECK_THROW(w.sample("ns:m_1", {{"x\"", "v"}}, 1),
                    std::invalid_argument);
  BOOST_CHECK_THROW(w.sample("ns:m_1", {{"a", "1"}, {"a", "2"}}, 1),
                    std::invalid_argument);
  BOOST_TEST(w.str() == "# TYPE ns:m_1 gauge\n");
}
