#pragma once

// One Prometheus text exposition (format 0.0.4), written safely: label
// values are escaped, names are checked, and each family gets its # HELP
// and # TYPE once with all its samples together, however many producers
// add to it and in whatever order.

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace courier {

/// The # TYPE of a metric family.
enum class metric_type { counter, gauge, histogram, summary, untyped };

/// Collects families and samples, then renders them with str(). Producers
/// declare a family and add its samples:
///
///     w.family("courier_router_published_total", metric_type::counter,
///              "Events published.");
///     w.sample("courier_router_published_total", {{"router", name}}, n);
///
/// Declaring a family again (a second router) is fine: its samples join
/// the first ones. Label values may hold anything (bytes that are not
/// UTF-8 become U+FFFD); a bad metric or label name, a sample of an
/// undeclared family or a family declared with two types throws
/// std::invalid_argument. Not thread-safe.
class prometheus_writer {
 public:
  /// One label of a sample; the views need only outlive the call.
  struct label {
    std::string_view name;
    std::string_view value;
  };
  using labels = std::initializer_list<label>;

  /// Declares the family `name` (the first help text wins).
  void family(std::string_view name, metric_type type, std::string_view help);

  /// Adds a sample of a declared family: `name` is the family's name, or
  /// for a histogram (summary) the family's name with _bucket, _sum or
  /// _count (_sum or _count). Doubles print NaN, +Inf and -Inf as such.
  void sample(std::string_view name, labels ls, double value);
  template <class T>
  requires std::is_integral_v<T>
  void sample(std::string_view name, labels ls, T value) {
    add(name, ls, std::to_string(value));
  }

  /// Declares the family `name` and adds a sample of it: a counter or a
  /// gauge with one series per producer.
  template <class T>
  void metric(std::string_view name, metric_type type, std::string_view help,
              labels ls, T value) {
    family(name, type, help);
    sample(name, ls, value);
  }

  /// Adds every family and sample of `other` (after those of this one).
  void merge(const prometheus_writer& other);

  /// The exposition: families in the order first declared.
  std::string str() const;

  /// `v` as the exposition writes numbers, e.g. for a bucket's "le".
  static std::string number(double v);

 private:
  struct family_data {
    std::string name;
    metric_type type;
    std::string help;
    std::string samples;  // rendered lines
  };

  void add(std::string_view name, labels ls, std::string_view value);
  family_data& family_of(std::string_view sample_name);

  std::vector<family_data> families_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

}  // namespace courier
