#include "widgets/model_slot_editor.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/remote/endpoint.h"
#include "widgets/engine_types.h"

namespace duet::gui {

namespace {

// What the pool thread hands back: plain values, formatted into text on the GUI thread.
struct TestOutcome {
  bool ok = false;
  std::string text;  // the summary ("1 model: tiny") or the error message
};

QLineEdit* lineEdit(QWidget* parent, const char* name, const QString& placeholder) {
  auto* e = new QLineEdit(parent);
  e->setObjectName(name);
  e->setPlaceholderText(placeholder);
  return e;
}

// A line edit with a "…" button that fills it from an open-file dialog.
QHBoxLayout* browseRow(QWidget* parent, QLineEdit* edit, const char* buttonName, const QString& title) {
  auto* browse = new QToolButton(parent);
  browse->setObjectName(buttonName);
  browse->setText(QStringLiteral("…"));
  browse->setToolTip(title);
  QObject::connect(browse, &QToolButton::clicked, parent, [parent, edit, title] {
    const QString f = QFileDialog::getOpenFileName(parent, title, edit->text(), QObject::tr("GGUF (*.gguf)"));
    if (!f.isEmpty()) edit->setText(f);
  });
  auto* row = new QHBoxLayout;
  row->setContentsMargins(0, 0, 0, 0);
  row->addWidget(edit, 1);
  row->addWidget(browse);
  return row;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

ModelSlotEditor::ModelSlotEditor(QWidget* parent) : QWidget(parent) {
  m_kind = new QComboBox(this);
  m_kind->setObjectName("slotKind");
  m_kind->addItem(tr("Local GGUF file"));
  m_kind->addItem(tr("OpenAI-compatible endpoint"));
  m_filePage = buildFilePage();
  m_endpointPage = buildEndpointPage();
  auto* l = new QVBoxLayout(this);
  l->setContentsMargins(0, 0, 0, 0);
  l->addWidget(m_kind);
  l->addWidget(m_filePage);
  l->addWidget(m_endpointPage);
  // Pages are shown or hidden rather than stacked so the dialog is only as tall as the page.
  m_endpointPage->hide();
  connect(m_kind, &QComboBox::currentIndexChanged, this, [this](int i) {
    m_filePage->setVisible(i == 0);
    m_endpointPage->setVisible(i == 1);
    invalidateTest();
    emit changed();
  });
}

QWidget* ModelSlotEditor::buildFilePage() {
  auto* page = new QWidget(this);
  m_path = lineEdit(page, "slotPath", tr("model.gguf"));
  page->setLayout(browseRow(page, m_path, "slotBrowse", tr("Model GGUF file")));
  connect(m_path, &QLineEdit::textChanged, this, &ModelSlotEditor::changed);
  return page;
}

QWidget* ModelSlotEditor::buildEndpointPage() {
  auto* page = new QWidget(this);
  m_endpoint = lineEdit(page, "slotEndpoint", QStringLiteral("http://host:8000/v1"));
  m_remoteModel = lineEdit(page, "slotRemoteModel", tr("the first model the server lists"));
  m_api = new QComboBox(page);
  m_api->setObjectName("slotApi");
  m_api->addItem(tr("completions (raw prompts)"), QStringLiteral("completions"));
  m_api->addItem(tr("chat (chat/completions)"), QStringLiteral("chat"));
  m_apiKeyEnv = lineEdit(page, "slotApiKeyEnv", QStringLiteral("DUET_API_KEY"));
  m_apiKeyEnv->setToolTip(
      tr("The name of the environment variable that holds the API key. The key is read "
         "when a run starts and is never saved in the experiment."));
  m_tokenizer =
      lineEdit(page, "slotTokenizer", tr("optional: local GGUF of the same model, for token counts"));
  m_test = new QPushButton(tr("Test connection"), page);
  m_test->setObjectName("slotTest");
  m_status = new QLabel(page);
  m_status->setObjectName("slotStatus");
  m_status->setWordWrap(true);
  m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* form = new QFormLayout(page);
  form->setContentsMargins(0, 0, 0, 0);
  form->addRow(tr("Base URL"), m_endpoint);
  form->addRow(tr("Model"), m_remoteModel);
  form->addRow(tr("API"), m_api);
  form->addRow(tr("API key variable"), m_apiKeyEnv);
  form->addRow(tr("Tokenizer"),
               browseRow(page, m_tokenizer, "slotTokenizerBrowse", tr("Tokenizer GGUF file")));
  auto* testRow = new QHBoxLayout;
  testRow->addWidget(m_test);
  testRow->addWidget(m_status, 1);
  form->addRow(testRow);

  for (QLineEdit* e : {m_endpoint, m_remoteModel, m_apiKeyEnv, m_tokenizer})
    connect(e, &QLineEdit::textChanged, this, [this] {
      invalidateTest();
      emit changed();
    });
  connect(m_api, &QComboBox::currentIndexChanged, this, [this] {
    invalidateTest();
    emit changed();
  });
  connect(m_test, &QPushButton::clicked, this, &ModelSlotEditor::testConnection);
  return page;
}

// ---------------------------------------------------------------------------------------------
// Value
// ---------------------------------------------------------------------------------------------

void ModelSlotEditor::setRef(const ModelRef& ref) {
  m_path->setText(toQString(ref.path));
  m_endpoint->setText(toQString(ref.endpoint));
  m_remoteModel->setText(toQString(ref.remoteModel));
  m_api->setCurrentIndex(ref.api == "chat" ? 1 : 0);
  m_apiKeyEnv->setText(toQString(ref.apiKeyEnv));
  m_tokenizer->setText(toQString(ref.tokenizer));
  if (!ref.empty()) setKind(ref.isRemote() ? Kind::kEndpoint : Kind::kFile);
  m_status->clear();
}

ModelRef ModelSlotEditor::ref() const {
  ModelRef r;
  if (kind() == Kind::kFile) {
    r.path = toStd(m_path->text().trimmed());
    return r;
  }
  r.endpoint = toStd(m_endpoint->text().trimmed());
  r.remoteModel = toStd(m_remoteModel->text().trimmed());
  r.api = toStd(m_api->currentData().toString());
  r.apiKeyEnv = toStd(m_apiKeyEnv->text().trimmed());
  r.tokenizer = toStd(m_tokenizer->text().trimmed());
  return r;
}

void ModelSlotEditor::setPath(const QString& path) {
  setKind(Kind::kFile);
  m_path->setText(path);
}

ModelSlotEditor::Kind ModelSlotEditor::kind() const {
  return m_kind->currentIndex() == 1 ? Kind::kEndpoint : Kind::kFile;
}

void ModelSlotEditor::setKind(Kind kind) {
  m_kind->setCurrentIndex(kind == Kind::kEndpoint ? 1 : 0);
}

void ModelSlotEditor::setEmptyText(const QString& text) {
  m_path->setPlaceholderText(text);
}

QString ModelSlotEditor::problem(const QString& slot) const {
  if (kind() == Kind::kFile) return {};
  if (m_endpoint->text().trimmed().isEmpty())
    return tr("%1: enter the endpoint's base URL (e.g. http://host:8000/v1).").arg(slot);
  return refProblem(ref(), slot);
}

QString ModelSlotEditor::refProblem(const ModelRef& ref, const QString& slot) {
  if (!ref.isRemote()) return {};
  const QString url = toQString(ref.endpoint);
  const QUrl u(toQString(remote::normalizedBaseUrl(ref.endpoint)));
  if (!u.isValid() || u.host().isEmpty() || (u.scheme() != "http" && u.scheme() != "https"))
    return tr("%1: \"%2\" is not an http(s) URL such as http://host:8000/v1.").arg(slot, url);
  static const QRegularExpression varName(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]*$"));
  if (!ref.apiKeyEnv.empty() && !varName.match(toQString(ref.apiKeyEnv)).hasMatch())
    return tr("%1: the API key variable must be the name of an environment variable (letters, digits, _), "
              "not the key itself.")
        .arg(slot);
  return {};
}

QString ModelSlotEditor::statusText() const {
  return m_status->text();
}

// ---------------------------------------------------------------------------------------------
// Connection test
// ---------------------------------------------------------------------------------------------

void ModelSlotEditor::testConnection() {
  const QString bad = kind() == Kind::kEndpoint ? problem(tr("Endpoint")) : tr("Choose an endpoint to test.");
  if (!bad.isEmpty()) {
    showStatus(false, bad);
    emit connectionTested(false, bad);
    return;
  }
  remote::EndpointConfig cfg = remote::endpointFromRef(ref());
  // A test should answer quickly: one retry, shorter timeouts than a run's.
  cfg.maxRetries = 1;
  cfg.connectTimeoutMs = 5000;
  cfg.idleTimeoutMs = 15000;
  const uint64_t id = ++m_testId;
  ++m_pending;
  m_test->setEnabled(false);
  m_status->setStyleSheet({});
  m_status->setText(tr("Connecting to %1…").arg(toQString(cfg.baseUrl)));

  // The watcher is a child: destroyed with the editor, it takes any late result with it.
  auto* watcher = new QFutureWatcher<TestOutcome>(this);
  connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, id, url = toQString(cfg.baseUrl)] {
    watcher->deleteLater();
    --m_pending;
    if (id != m_testId) return;  // superseded by an edit or a newer test
    m_test->setEnabled(true);
    const TestOutcome o = watcher->result();
    const QString message = o.ok ? tr("Connected to %1 — %2").arg(url, toQString(o.text)) : toQString(o.text);
    showStatus(o.ok, message);
    emit connectionTested(o.ok, message);
  });
  // Runs on the global pool; captures values only, never the editor.
  watcher->setFuture(QtConcurrent::run([cfg] {
    auto r = remote::testEndpoint(cfg);
    return r ? TestOutcome{true, *r} : TestOutcome{false, r.message()};
  }));
}

void ModelSlotEditor::showStatus(bool ok, const QString& message) {
  m_status->setStyleSheet(ok ? QStringLiteral("color: #2e8b57") : QStringLiteral("color: #d03b3b"));
  m_status->setText(message);
}

void ModelSlotEditor::invalidateTest() {
  ++m_testId;
  m_test->setEnabled(true);
  m_status->clear();
}

}  // namespace duet::gui
