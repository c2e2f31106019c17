// Tests of detail::envelope: inline and heap storage, moves and type ids.
#define BOOST_TEST_MODULE message
#include "courier/message.hpp"

#include "courier/detail/envelope.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace {

using courier::detail::envelope;
using courier::detail::type_of;

struct small_pod {
  int a;
  double b;
};

struct text_message {
  std::string text;
};

struct counted_big {
  static inline int constructed = 0;
  static inline int destroyed = 0;

  explicit counted_big(int v) : value(v) {
    ++constructed;
    payload.fill(static_cast<unsigned char>(v));
  }
  counted_big(const counted_big& o) : value(o.value), payload(o.payload) {
    ++constructed;
  }
  counted_big(counted_big&& o) noexcept : value(o.value), payload(o.payload) {
    ++constructed;
  }
  ~counted_big() { ++destroyed; }

  int value;
  std::array<unsigned char, 200> payload{};
};

struct throwing_move {
  explicit throwing_move(int v) : value(v) {}
  throwing_move(throwing_move&& o) noexcept(false) : value(o.value) {}
  int value;
};

struct alignas(64) over_aligned {
  int value;
};

struct first_kind {
  int v;
};

struct second_kind {
  int v;
};

struct distinctive_message_name {};

bool stored_inside(envelope& e) {
  auto* p = static_cast<unsigned char*>(e.data());
  auto* self = reinterpret_cast<unsigned char*>(&e);
  return p >= self && p < self + sizeof(envelope);
}

void reset_counters() {
  counted_big::constructed = 0;
  counted_big::destroyed = 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(message)

BOOST_AUTO_TEST_CASE(default_envelope_is_empty) {
  envelope e;
  BOOST_TEST(e.type() == nullptr);
  BOOST_TEST(!e.target.valid());
  BOOST_TEST((e.mode == courier::detail::reply_mode::none));
  BOOST_TEST((e.kind == courier::detail::envelope_kind::message));
  e.reset();
  BOOST_TEST(e.type() == nullptr);
}

BOOST_AUTO_TEST_CASE(small_trivially_copyable_message_is_stored_inline) {
  envelope e;
  e.emplace<small_pod>(small_pod{7, 2.5});
  BOOST_TEST(e.type() == type_of<small_pod>());
  BOOST_TEST(!e.type()->on_heap);
  BOOST_TEST(e.type()->relocate == nullptr);
  BOOST_TEST(e.type()->destroy == nullptr);
  BOOST_TEST(stored_inside(e));
  BOOST_TEST(e.get<small_pod>().a == 7);
  BOOST_TEST(e.get<small_pod>().b == 2.5);

  envelope moved(std::move(e));
  BOOST_TEST(e.type() == nullptr);
  BOOST_TEST(moved.type() == type_of<small_pod>());
  BOOST_TEST(stored_inside(moved));
  BOOST_TEST(moved.get<small_pod>().a == 7);
  BOOST_TEST(moved.get<small_pod>().b == 2.5);
}

BOOST_AUTO_TEST_CASE(string_message_is_stored_inline_and_moved_correctly) {
  static_assert(sizeof(text_message) <= courier::message_inline_size);
  const std::string short_text = "hi";
  const std::string long_text(100, 'x');
  for (const std::string& original : {short_text, long_text}) {
    envelope e;
    e.emplace<text_message>(text_message{original});
    BOOST_TEST(!e.type()->on_heap);
    BOOST_TEST(e.type()->relocate != nullptr);
    BOOST_TEST(e.type()->destroy != nullptr);
    BOOST_TEST(stored_inside(e));

    envelope a(std::move(e));
    envelope b;
    b = std::move(a);
    envelope c(std::move(b));
    BOOST_TEST(e.type() == nullptr);
    BOOST_TEST(a.type() == nullptr);
    BOOST_TEST(b.type() == nullptr);
    BOOST_TEST(c.type() == type_of<text_message>());
    BOOST_TEST(stored_inside(c));
    BOOST_TEST(c.get<text_message>().text == original);
    c.get<text_message>().text += "!";
    BOOST_TEST(c.get<text_message>().text == original + "!");
  }
}

BOOST_AUTO_TEST_CASE(std_string_itself_is_a_valid_inline_message) {
  envelope e;
  e.emplace<std::string>("a short one");
  BOOST_TEST(!e.type()->on_heap);
  envelope moved(std::move(e));
  BOOST_TEST(moved.get<std::string>() == "a short one");
}

BOOST_AUTO_TEST_CASE(move_assignment_destroys_the_previous_message) {
  auto tracker = std::make_shared<int>(1);
  std::weak_ptr<int> watch = tracker;
  envelope holder;
  holder.emplace<std::shared_ptr<int>>(std::move(tracker));
  BOOST_TEST(!watch.expired());
  envelope other;
  other.emplace<small_pod>(small_pod{1, 1.0});
  holder = std::move(other);
  BOOST_TEST(watch.expired());
  BOOST_TEST(holder.type() == type_of<small_pod>());
}

BOOST_AUTO_TEST_CASE(large_message_goes_to_heap_and_is_destroyed_once) {
  static_assert(sizeof(counted_big) > courier::message_inline_size);
  reset_counters();
  {
    envelope e;
    e.emplace<counted_big>(42);
    BOOST_TEST(e.type()->on_heap);
    BOOST_TEST(!stored_inside(e));
    BOOST_TEST(counted_big::constructed == 1);
    void* address = e.data();

    envelope a(std::move(e));
    envelope b;
    b = std::move(a);
    BOOST_TEST(b.data() == address);
    BOOST_TEST(b.get<counted_big>().value == 42);
    BOOST_TEST(b.get<counted_big>().payload[199] == 42);
    BOOST_TEST(counted_big::constructed == 1);
    BOOST_TEST(counted_big::destroyed == 0);

    b.reset();
    BOOST_TEST(b.type() == nullptr);
    BOOST_TEST(counted_big::destroyed == 1);
  }
  BOOST_TEST(counted_big::constructed == 1);
  BOOST_TEST(counted_big::destroyed == 1);
}

BOOST_AUTO_TEST_CASE(heap_message_is_destroyed_once_by_envelope_destructor) {
  reset_counters();
  {
    envelope e;
    e.emplace<counted_big>(3);
    envelope a(std::move(e));
    envelope b(std::move(a));
    envelope c;
    c.emplace<counted_big>(4);
    c = std::move(b);
    BOOST_TEST(counted_big::destroyed == 1);
    BOOST_TEST(c.get<counted_big>().value == 3);
  }
  BOOST_TEST(counted_big::constructed == 2);
  BOOST_TEST(counted_big::destroyed == 2);
}

BOOST_AUTO_TEST_CASE(non_nothrow_movable_message_goes_to_heap) {
  static_assert(sizeof(throwing_move) <= courier::message_inline_size);
  static_assert(!std::is_nothrow_move_constructible_v<throwing_move>);
  envelope e;
  e.emplace<throwing_move>(9);
  BOOST_TEST(e.type()->on_heap);
  envelope moved(std::move(e));
  BOOST_TEST(moved.get<throwing_move>().value == 9);
}

BOOST_AUTO_TEST_CASE(over_aligned_message_goes_to_heap) {
  envelope e;
  e.emplace<over_aligned>(over_aligned{5});
  BOOST_TEST(e.type()->on_heap);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(e.data()) % 64 == 0);
  BOOST_TEST(e.get<over_aligned>().value == 5);
}

BOOST_AUTO_TEST_CASE(move_transfers_the_routing_fields_and_the_reply_duty) {
  envelope e;
  e.emplace<small_pod>(small_pod{1, 2.0});
  e.request_id = 77;
  e.mode = courier::detail::reply_mode::waiter;
  e.kind = courier::detail::envelope_kind::reply;
  envelope moved(std::move(e));
  BOOST_TEST(moved.request_id == 77u);
  BOOST_TEST((moved.mode == courier::detail::reply_mode::waiter));
  BOOST_TEST((moved.kind == courier::detail::envelope_kind::reply));
  BOOST_TEST((e.mode == courier::detail::reply_mode::none));
  moved.mode = courier::detail::reply_mode::none;
}

BOOST_AUTO_TEST_CASE(distinct_types_have_distinct_type_ids) {
  BOOST_TEST(type_of<first_kind>() != type_of<second_kind>());
  BOOST_TEST(type_of<first_kind>() == type_of<first_kind>());
  BOOST_TEST(type_of<int>() != type_of<long>());
  BOOST_TEST(type_of<courier::unit>() != type_of<first_kind>());
}

BOOST_AUTO_TEST_CASE(type_name_contains_the_struct_name) {
  BOOST_TEST(type_of<distinctive_message_name>()->name.find(
                 "distinctive_message_name") != std::string_view::npos);
  BOOST_TEST(courier::detail::type_name<second_kind>().find("second_kind") !=
             std::string_view::npos);
  BOOST_TEST(type_of<first_kind>()->name.find("second_kind") ==
             std::string_view::npos);
}

BOOST_AUTO_TEST_SUITE_END()
