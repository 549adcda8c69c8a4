// FunctionRef: a non-owning, non-allocating reference to a callable, for hot paths where
// std::function could allocate. The callable must outlive the call it is passed to.
#pragma once

#include <type_traits>
#include <utility>

namespace duet {

template <class Sig>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT(google-explicit-constructor)
      : m_obj(const_cast<void*>(static_cast<const void*>(&f))),
        m_call([](void* obj, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(obj))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return m_call(m_obj, std::forward<Args>(args)...); }

 private:
  void* m_obj;
  R (*m_call)(void*, Args...);
};

}  // namespace duet
