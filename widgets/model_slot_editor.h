// ModelSlotEditor: edits one model slot of an experiment (a ModelRef) — either a local GGUF file
// (path + Browse) or an OpenAI-compatible endpoint (base URL, model name, completions/chat API,
// the *name* of the environment variable holding the API key, optional local tokenizer GGUF).
// The API key itself is never entered here and never part of the ModelRef (issue 6).
//
// "Test connection" runs remote::testEndpoint on the global thread pool (it blocks on the
// network); the result comes back through a QFutureWatcher the editor owns, so a result that
// arrives after the editor is gone is dropped with the watcher, and a result for fields that
// have been edited since (or for an older click) is dropped as superseded.
//
// Child objectNames for tests: slotKind (combo: 0 file, 1 endpoint), slotPath, slotBrowse,
// slotEndpoint, slotRemoteModel, slotApi (combo: completions, chat), slotApiKeyEnv,
// slotTokenizer, slotTokenizerBrowse, slotTest, slotStatus.
// Thread-safety: GUI thread.
#pragma once

#include <QWidget>
#include <cstdint>

#include "core/duet/experiment.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace duet::gui {

class ModelSlotEditor : public QWidget {
  Q_OBJECT
 public:
  enum class Kind { kFile = 0, kEndpoint = 1 };

  explicit ModelSlotEditor(QWidget* parent = nullptr);

  // A remote ref selects the endpoint page, anything else the file page. An empty ref keeps the
  // current page and clears the fields.
  void setRef(const ModelRef& ref);
  ModelRef ref() const;               // only the selected kind's fields; trimmed
  void setPath(const QString& path);  // file kind with this path
  Kind kind() const;
  void setKind(Kind kind);
  // Placeholder of the path field, e.g. "empty: the experiment's m0" for optional slots.
  void setEmptyText(const QString& text);
  // What is wrong with the slot as entered, "" when nothing; `slot` names it in the message
  // ("Light model m0"). An empty file path is not an error here (callers know which slots are
  // required); an endpoint without a URL, a malformed URL or a key variable that is not a
  // variable name are.
  QString problem(const QString& slot) const;
  // The same checks on a ref built elsewhere (a remote ref's URL and key variable); "" when fine.
  static QString refProblem(const ModelRef& ref, const QString& slot);
  bool isTesting() const { return m_pending > 0; }
  QString statusText() const;

 public slots:
  void testConnection();  // no-op result (ok=false, message) when no URL is entered

 signals:
  void changed();
  void connectionTested(bool ok, const QString& message);

 private:
  QWidget* buildFilePage();
  QWidget* buildEndpointPage();
  void showStatus(bool ok, const QString& message);
  void invalidateTest();  // fields changed: an in-flight result no longer applies

  QComboBox* m_kind;
  QWidget* m_filePage;
  QWidget* m_endpointPage;
  QLineEdit* m_path;
  QLineEdit* m_endpoint;
  QLineEdit* m_remoteModel;
  QComboBox* m_api;
  QLineEdit* m_apiKeyEnv;
  QLineEdit* m_tokenizer;
  QPushButton* m_test;
  QLabel* m_status;
  uint64_t m_testId = 0;  // id of the test whose result would still apply
  int m_pending = 0;      // tests in flight (superseded ones included)
};

}  // namespace duet::gui
