#pragma once

// The subscription index of a router: a trie keyed by subject tokens, with
// '*' and '>' as their own branches. Matching a subject walks its tokens
// once, following only the literal branch of each token plus the wildcard
// branches, so patterns that cannot match cost nothing.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace courier::detail {

class subject_trie {
 public:
  /// Adds `id` under a valid `pattern`.
  void insert(std::string_view pattern, std::uint64_t id);
  /// Removes `id` from `pattern`; prunes nodes left empty.
  bool erase(std::string_view pattern, std::uint64_t id);

  /// Calls on_id(id) for every pattern that matches the valid `subject`.
  template <class F>
  void match(std::string_view subject, F&& on_id) const {
    std::string_view tokens[max_inline_tokens];
    std::vector<std::string_view> more;
    std::size_t n = split(subject, tokens, more);
    const std::string_view* t = more.empty() ? tokens : more.data();
    walk(root_, t, 0, n, on_id);
  }

  std::size_t size() const noexcept { return size_; }

 private:
  static constexpr std::size_t max_inline_tokens = 16;

  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct node {
    std::unordered_map<std::string, std::unique_ptr<node>, string_hash,
                       std::equal_to<>>
        children;
    std::unique_ptr<node> star;
    std::vector<std::uint64_t> here;  // patterns that end at this node
    std::vector<std::uint64_t> tail;  // patterns that end with '>' here
    bool empty() const noexcept {
      return children.empty() && !star && here.empty() && tail.empty();
    }
  };

  static std::size_t split(std::string_view s,
                           std::string_view (&inline_tokens)[max_inline_tokens],
                           std::vector<std::string_view>& more);

  template <class F>
  static void walk(const node& n, const std::string_view* t, std::size_t i,
                   std::size_t count, F& on_id) {
    if (i == count) {
      for (std::uint64_t id : n.here) {
        on_id(id);
      }
      return;
    }
    for (std::uint64_t id : n.tail) {
      on_id(id);
    }
    if (auto it = n.children.find(t[i]); it != n.children.end()) {
      walk(*it->second, t, i + 1, count, on_id);
    }
    if (n.star) {
      walk(*n.star, t, i + 1, count, on_id);
    }
  }

  static bool erase_at(node& n, const std::vector<std::string_view>& tokens,
                       std::size_t i, std::uint64_t id);

  node root_;
  std::size_t size_ = 0;
};

}  // namespace courier::detail
