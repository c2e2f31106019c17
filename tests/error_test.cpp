// Tests of courier's error vocabulary: errc, its category and ask_error.
#define BOOST_TEST_MODULE error
#include "courier/error.hpp"

#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

const std::vector<courier::errc> all_codes = {
    courier::errc::ask_timeout,      courier::errc::target_dead,
    courier::errc::handler_threw,    courier::errc::no_handler,
    courier::errc::blocking_on_loop, courier::errc::system_stopped,
    courier::errc::bad_reply_type,   courier::errc::broken_promise,
    courier::errc::mailbox_full,
};

}  // namespace

BOOST_AUTO_TEST_SUITE(error)

BOOST_AUTO_TEST_CASE(category_is_named_courier) {
  BOOST_TEST(std::string_view(courier::error_category().name()) == "courier");
}

BOOST_AUTO_TEST_CASE(category_is_a_single_instance) {
  BOOST_TEST(&courier::error_category() == &courier::error_category());
}

BOOST_AUTO_TEST_CASE(every_code_has_a_distinct_non_empty_message) {
  std::set<std::string> messages;
  for (auto code : all_codes) {
    std::string m = courier::error_category().message(static_cast<int>(code));
    BOOST_TEST(!m.empty());
    messages.insert(m);
  }
  BOOST_TEST(messages.size() == all_codes.size());
}

BOOST_AUTO_TEST_CASE(unknown_value_still_has_a_message) {
  BOOST_TEST(!courier::error_category().message(0).empty());
  BOOST_TEST(!courier::error_category().message(250).empty());
}

BOOST_AUTO_TEST_CASE(make_error_code_carries_value_and_category) {
  for (auto code : all_codes) {
    std::error_code ec = courier::make_error_code(code);
    BOOST_TEST(ec.value() == static_cast<int>(code));
    BOOST_TEST(&ec.category() == &courier::error_category());
    BOOST_TEST(ec.message() ==
               courier::error_category().message(static_cast<int>(code)));
    BOOST_TEST(static_cast<bool>(ec));
  }
}

BOOST_AUTO_TEST_CASE(errc_converts_implicitly_to_error_code) {
  std::error_code ec = courier::errc::no_handler;
  BOOST_TEST((ec == courier::errc::no_handler));
  BOOST_TEST((ec != courier::errc::target_dead));
  BOOST_TEST((ec == courier::make_error_code(courier::errc::no_handler)));
}

BOOST_AUTO_TEST_CASE(courier_codes_differ_from_generic_codes_with_same_value) {
  std::error_code ours = courier::errc::ask_timeout;
  std::error_code generic(static_cast<int>(courier::errc::ask_timeout),
                          std::generic_category());
  BOOST_TEST((ours != generic));
}

BOOST_AUTO_TEST_CASE(ask_error_reports_its_code_and_text) {
  courier::ask_error e(courier::errc::handler_threw, "boom in handler");
  BOOST_TEST((e.value() == courier::errc::handler_threw));
  BOOST_TEST((e.code() == courier::errc::handler_threw));
  BOOST_TEST(std::string(e.what()).find("boom in handler") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(ask_error_is_caught_as_system_error) {
  try {
    throw courier::ask_error(courier::errc::ask_timeout, "late");
  } catch (const std::system_error& e) {
    BOOST_TEST((e.code() == courier::errc::ask_timeout));
    return;
  }
  BOOST_FAIL("ask_error was not caught as std::system_error");
}

BOOST_AUTO_TEST_CASE(ask_error_value_round_trips_every_code) {
  for (auto code : all_codes) {
    courier::ask_error e(code, "x");
    BOOST_TEST((e.value() == code));
  }
}

BOOST_AUTO_TEST_SUITE_END()
