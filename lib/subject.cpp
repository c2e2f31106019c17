#include "courier/subject.hpp"

#include <stdexcept>

namespace courier {

namespace {

const char* check(std::string_view s, bool pattern) noexcept {
  if (s.empty()) {
    return "it is empty";
  }
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = s.find('.', start);
    std::string_view token =
        s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (token.empty()) {
      return "it has an empty token";
    }
    bool last = dot == std::string_view::npos;
    for (char c : token) {
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0') {
        return "it contains whitespace";
      }
    }
    bool wild = token.find_first_of("*>") != std::string_view::npos;
    if (wild) {
      if (!pattern) {
        return "a subject cannot contain '*' or '>'";
      }
      if (token.size() != 1) {
        return "'*' and '>' must be whole tokens";
      }
      if (token == ">" && !last) {
        return "'>' must be the last token";
      }
    }
    if (last) {
      return nullptr;
    }
    start = dot + 1;
  }
}

// The next token of `s` from `pos`; advances `pos` past it and its dot.
std::string_view next_token(std::string_view s, std::size_t& pos) noexcept {
  std::size_t dot = s.find('.', pos);
  std::string_view t;
  if (dot == std::string_view::npos) {
    t = s.substr(pos);
    pos = s.size() + 1;
  } else {
    t = s.substr(pos, dot - pos);
    pos = dot + 1;
  }
  return t;
}

}  // namespace

const char* subject_error(std::string_view subject) noexcept {
  return check(subject, false);
}

const char* pattern_error(std::string_view pattern) noexcept {
  return check(pattern, true);
}

void check_subject(std::string_view subject) {
  if (const char* why = subject_error(subject)) {
    throw std::invalid_argument("courier: invalid subject \"" +
                                std::string(subject) + "\": " + why);
  }
}

void check_pattern(std::string_view pattern) {
  if (const char* why = pattern_error(pattern)) {
    throw std::invalid_argument("courier: invalid subject pattern \"" +
                                std::string(pattern) + "\": " + why);
  }
}

bool subject_matches(std::string_view pattern,
                     std::string_view subject) noexcept {
  std::size_t pp = 0;
  std::size_t sp = 0;
  while (pp <= pattern.size()) {
    std::string_view pt = next_token(pattern, pp);
    if (pt == ">") {
      return sp <= subject.size();  // at least one token left
    }
    if (sp > subject.size()) {
      return false;  // the subject ran out first
    }
    std::string_view st = next_token(subject, sp);
    if (pt != "*" && pt != st) {
      return false;
    }
  }
  return sp > subject.size();  // both ran out together
}

}  // namespace courier
