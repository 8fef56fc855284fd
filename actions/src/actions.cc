// Library anchor: keeps reflex::actions a real archive while its parts are added.
namespace reflex::actions {
int LibraryAnchor() { return 0; }
}  // namespace reflex::actions
