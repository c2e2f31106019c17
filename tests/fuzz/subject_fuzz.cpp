// Fuzzes subjects and event ids. The first byte picks:
//  0: the validators: a valid subject is a valid pattern and matches
//     itself, '>' and all-'*' patterns; check_* throw exactly when the
//     validators refuse.
//  1: matching: patterns (one a line) and a subject (the last line); the
//     router's subscription trie finds exactly the patterns that
//     subject_matches() says match, also after half are erased.
//  2: event ids: a parsed id prints back to one that parses the same.

#include "courier/push.hpp"
#include "courier/subject.hpp"

#include "fuzz_check.hpp"
#include "subject_trie.hpp"

#include <cstddef>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using courier::fuzz::split;

template <class F>
bool throws_invalid_argument(F f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

void fuzz_validators(std::string_view s) {
  bool subject = courier::valid_subject(s);
  bool pattern = courier::valid_pattern(s);
  COURIER_FUZZ_CHECK(
      throws_invalid_argument([&] { courier::check_subject(s); }) != subject);
  COURIER_FUZZ_CHECK(
      throws_invalid_argument([&] { courier::check_pattern(s); }) != pattern);
  if (!subject) {
    return;
  }
  COURIER_FUZZ_CHECK(pattern);
  COURIER_FUZZ_CHECK(courier::subject_matches(s, s));
  COURIER_FUZZ_CHECK(courier::subject_matches(">", s));
  std::string stars;
  std::size_t tokens = split(s, '.', s.size() + 1).size();
  for (std::size_t i = 0; i < tokens; ++i) {
    stars += i == 0 ? "*" : ".*";
  }
  COURIER_FUZZ_CHECK(courier::subject_matches(stars, s));
  COURIER_FUZZ_CHECK(!courier::subject_matches(stars + ".*", s));
  COURIER_FUZZ_CHECK(!courier::subject_matches(std::string(s) + ".>", s));
  COURIER_FUZZ_CHECK(
      courier::subject_matches(std::string(s) + ".>", std::string(s) + ".x"));
}

void fuzz_matching(std::string_view in) {
  std::vector<std::string_view> lines = split(in, '\n', 17);
  std::string_view subject = lines.back();
  lines.pop_back();
  if (!courier::valid_subject(subject)) {
    return;
  }
  courier::detail::subject_trie trie;
  std::set<std::uint64_t> want;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!courier::valid_pattern(lines[i])) {
      continue;
    }
    trie.insert(lines[i], i);
    if (courier::subject_matches(lines[i], subject)) {
      want.insert(i);
    }
  }
  auto found = [&] {
    std::multiset<std::uint64_t> ids;
    trie.match(subject, [&](std::uint64_t id) { ids.insert(id); });
    return ids;
  };
  std::multiset<std::uint64_t> got = found();
  COURIER_FUZZ_CHECK(got ==
                     std::multiset<std::uint64_t>(want.begin(), want.end()));
  for (std::size_t i = 0; i < lines.size(); i += 2) {
    if (courier::valid_pattern(lines[i])) {
      COURIER_FUZZ_CHECK(trie.erase(lines[i], i));
      want.erase(i);
    }
  }
  got = found();
  COURIER_FUZZ_CHECK(got ==
                     std::multiset<std::uint64_t>(want.begin(), want.end()));
}

void fuzz_event_id(std::string_view in) {
  std::string epoch;
  std::uint64_t seq = 0;
  if (!courier::http::parse_event_id(in, epoch, seq)) {
    return;
  }
  COURIER_FUZZ_CHECK(!epoch.empty());
  COURIER_FUZZ_CHECK(epoch.find_first_of(std::string_view("\r\n\0 ", 4)) ==
                     std::string::npos);
  std::string id = courier::http::event_id(epoch, seq);
  std::string epoch2;
  std::uint64_t seq2 = 0;
  COURIER_FUZZ_CHECK(courier::http::parse_event_id(id, epoch2, seq2));
  COURIER_FUZZ_CHECK(epoch2 == epoch && seq2 == seq);
  std::string_view digits = in.substr(in.rfind('-') + 1);
  if (digits.size() == 1 || digits.front() != '0') {
    COURIER_FUZZ_CHECK(id == in);  // no leading zeros: the same text
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      fuzz_validators(in);
      break;
    case 1:
      fuzz_matching(in);
      break;
    default:
      fuzz_event_id(in);
      break;
  }
  return 0;
}
