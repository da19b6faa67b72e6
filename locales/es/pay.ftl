# La página de pago rápido.
pay-title = Pagar a { $company }
pay-heading = Facturas de { $name }
pay-confirm-bank = Confirme con su banco
pay-authenticate = Su banco le pide confirmar este pago. Complete la verificación de su banco para terminar de pagar; no se cobra nada hasta que lo haga.
pay-opening-bank = Abriendo la verificación de su banco…
pay-sandbox-authenticate = Completar la verificación del banco (tarjeta de prueba)
pay-bank-needs-js = La verificación de su banco necesita JavaScript activado.
pay-bank-needs-js-call = La verificación de su banco necesita JavaScript activado, o llame al { $phone } para pagar por teléfono.
pay-all-paid = Está al día con sus pagos. ¡Gracias!
pay-turn-off-autopay = Desactivar el pago automático
pay-change-autopay = Cambiar o desactivar el pago automático
pay-select-all = Seleccionar todas
pay-group-due = Por pagar ahora
pay-group-upcoming = Próximas
pay-on-behalf = Usted es responsable de pagar las facturas de esta propiedad.
pay-invoice = Factura { $number }
pay-issued = Emitida el { $date }
pay-overdue = Vencida hace { $days ->
    [one] { $days } día
   *[other] { $days } días
} (vencía el { $date })
pay-due-today = Vence hoy
pay-due-on = Vence el { $date }
pay-show-lines = Ver detalle
pay-col-service = Servicio
pay-col-qty = Cant.
pay-col-amount = Importe
pay-invoice-total = Total de la factura
pay-paid-so-far = Pagado hasta ahora
pay-invoice-pdf = Factura { $number } (PDF)
pay-statement-pdf = Estado de cuenta de todas las facturas abiertas (PDF)
pay-how = Cómo pagar
pay-different-card = Otra tarjeta
pay-once-or-autopay = Una vez o pago automático
pay-autopay-once-note = Este pago se hace una sola vez; el pago automático sigue cobrando en { $card } las facturas cuando vencen.
pay-this-time = Pagar solo esta vez
pay-save-autopay = Guardar esta tarjeta y pagar automáticamente las facturas futuras (pago automático)
pay-total-selected = Total seleccionado:
pay-select-one = Seleccione al menos una factura para pagar.
pay-button-amount = Pagar { $amount }
pay-button = Pagar las facturas seleccionadas
pay-fine = Pago seguro a { $company }. El número de su tarjeta va solo al procesador de tarjetas.
pay-form-stale = Esta página estuvo abierta demasiado tiempo o vino de otro lugar. Revise su selección y presione Pagar otra vez.
pay-attempt-missing = No se encontró ese pago. Revise su selección y presione Pagar otra vez.
pay-consent-needed = Para usar el pago automático, marque la casilla para autorizar los cobros futuros, o elija “Pagar solo esta vez”.
pay-not-payable = Una factura que seleccionó ya no se puede pagar (se pagó o cambió). Revise su selección y vuelva a intentarlo.
pay-unavailable = El procesador de tarjetas no responde en este momento. No se cobró nada. Vuelva a intentarlo en un momento.

# El pago automático, como lo dice la página.
autopay-on-future = El pago automático está activado: { $card }. Las facturas futuras se cobran en ella cuando vencen.
autopay-on-next = El pago automático está activado: { $card }; { $count ->
    [one] la factura
   *[other] las facturas
} { $numbers }, { $amount }, se { $count ->
    [one] cobrará
   *[other] cobrarán
} el { $date }.
autopay-on-next-other = El pago automático está activado: { $card }; { $count ->
    [one] la factura
   *[other] las facturas
} { $numbers }, { $amount }, se { $count ->
    [one] cobrará
   *[other] cobrarán
} en { $other } el { $date }.

# El recibo.
receipt-title = Recibo — { $company }
receipt-heading = Pagó { $amount }. ¡Gracias!
receipt-emailed = Le enviamos un recibo por correo electrónico.
receipt-email-failed = No se pudo enviar el recibo por correo electrónico; guarde esta página como su recibo.
receipt-email-coming = Un recibo va en camino a su correo electrónico.
receipt-no-email = No se envió un recibo por correo electrónico: guarde esta página (o imprímala) como su recibo.
receipt-reference = Referencia del pago
receipt-card = Tarjeta
receipt-time = Fecha y hora
receipt-col-invoice = Factura
receipt-col-paid = Pagado
receipt-col-due = Saldo pendiente
receipt-autopay-on = El pago automático está activado con { $card }.
receipt-statement = Estado de cuenta (PDF)

# Desactivar el pago automático desde un enlace.
autopay-title = Pago automático — { $company }
autopay-heading = Pago automático
autopay-off = El pago automático está desactivado
autopay-turned-off-text = Las facturas futuras no se cobrarán automáticamente. Puede pagarlas desde su página de pago cuando lleguen.
autopay-none-text = No se cobra ninguna tarjeta automáticamente. Puede pagar sus facturas desde su página de pago.
autopay-turn-off-question = ¿Desactivar el pago automático?
autopay-on-for = El pago automático está activado con { $card }. Las facturas se cobran en ella cuando vencen.
autopay-off-explain = Si lo desactiva, las facturas futuras no se cobran automáticamente; usted las paga desde su página de pago. Su tarjeta guardada se conserva.
autopay-form-stale = Esta página estuvo abierta demasiado tiempo o vino de otro lugar. Presione el botón otra vez.
autopay-choose-card = Elija una de sus tarjetas guardadas para el pago automático.
autopay-card-expired = Esa tarjeta está vencida. Elija otra tarjeta.
autopay-tick-consent = Para activar el pago automático, marque la casilla para autorizar los cobros futuros.
receipt-pdf = (PDF)
